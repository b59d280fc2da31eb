"""Algorand smart contracts of algo-tracer; build and deploy with `python -m smart_contracts`."""
