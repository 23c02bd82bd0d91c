"""Realtime engine: pub/sub per channel, short history, presence and counters; memory or Redis."""
