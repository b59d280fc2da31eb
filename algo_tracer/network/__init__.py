"""The only code that talks to algod, the Indexer or KMD, or catches their errors.

Callers above it see only our errors (`NetworkError`, `ContractError`, ...), raised with one wording
by `network.errors` (import-linter contract).
"""
