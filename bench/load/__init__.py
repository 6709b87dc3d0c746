"""Helpers of the load benchmark (bench/bench_load.py)."""
