"""Benchmarks: performance targets live here, never in timed unit tests.

Run them all with ``make bench`` (``python -m bench``); ``--quick`` for a short run, ``--only NAME`` for one.
Each benchmark is a module ``bench_<name>.py`` that measures the project against a baseline in the same
run and prints the ratio next to the absolute figures. See bench/README.md and docs/benchmarks.md.
"""
