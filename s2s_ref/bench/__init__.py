"""Benchmarks: scripts run as ``python -m s2s_ref.bench.NAME`` that print tables and ratios.

Each compares against a baseline measured in the same process; no test asserts on wall time.
"""
