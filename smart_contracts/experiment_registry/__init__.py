"""ExperimentRegistry: the on-chain provenance registry (contract.py) and its deploy script."""
