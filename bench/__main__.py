"""``python -m bench``: run every ``bench/bench_<name>.py`` (or those named with ``--only``).

Each prints its table and the ratio against its in-run baseline, and writes bench/results/<name>.json.
The exit status is 1 if any benchmark failed (errors during the load, a missed target, or a crash).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback
from types import ModuleType

import bench
from bench.harness import BenchResult, Options, write_result

PREFIX = "bench_"


def discover() -> dict[str, ModuleType]:
    modules: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        if info.name.startswith(PREFIX):
            module = importlib.import_module(f"bench.{info.name}")
            modules[str(module.NAME)] = module
    return modules


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short runs: 2 rounds of 2 s per target")
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this benchmark (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument(
        "--loadgen",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator: wrk if installed (auto), or the built-in Python one",
    )
    parser.add_argument("--duration", type=float, metavar="S", help="seconds per measured run")
    parser.add_argument("--rounds", type=int, metavar="N", help="measured runs per target")
    parser.add_argument("--connections", type=int, metavar="N", help="concurrent keep-alive connections")
    args = parser.parse_args(argv)

    modules = discover()
    if args.list:
        for name, module in modules.items():
            print(f"{name:<20} {module.DESCRIPTION}")
        return 0
    names = args.only or list(modules)
    unknown = [n for n in names if n not in modules]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(modules)}")
    if args.duration is not None and not 0 < args.duration <= 120:
        parser.error("--duration must be in (0, 120] seconds")
    if args.rounds is not None and not 1 <= args.rounds <= 20:
        parser.error("--rounds must be in [1, 20]")
    if args.connections is not None and not 1 <= args.connections <= 1024:
        parser.error("--connections must be in [1, 1024]")
    options = Options.make(
        quick=args.quick,
        loadgen=args.loadgen,
        duration_s=args.duration,
        rounds=args.rounds,
        connections=args.connections,
    )

    failed: list[str] = []
    started = time.monotonic()
    for name in names:
        print(f"== {name}{' (quick)' if options.quick else ''}", flush=True)
        t0 = time.monotonic()
        try:
            result: BenchResult = modules[name].run(options)
        except Exception:
            traceback.print_exc()
            print(f"FAIL {name}: the benchmark did not complete", flush=True)
            failed.append(name)
            continue
        path = write_result(result)
        print()
        print(result.report)
        print(f"({time.monotonic() - t0:.0f} s; wrote {path.relative_to(path.parents[2])})")
        if not result.ok:
            for failure in result.failures:
                print(f"FAIL {name}: {failure}", flush=True)
            failed.append(name)
        print(flush=True)

    total = f"{time.monotonic() - started:.0f} s"
    if failed:
        print(f"bench: {len(failed)} of {len(names)} failed ({', '.join(failed)}) in {total}")
        return 1
    print(f"bench: {len(names)} ok in {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
