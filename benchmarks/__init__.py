"""Benchmarks: the scratch NumPy code against its torch twin, on CPU and GPU. Run `python -m
benchmarks --help`."""
