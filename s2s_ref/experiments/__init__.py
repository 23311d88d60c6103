"""Experiments, run as ``python -m s2s_ref.experiments.NAME``; each writes a results file."""
