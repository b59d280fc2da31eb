"""The only code that talks to algod, the Indexer or KMD, or catches their errors.

Callers above it see only our errors (`NetworkError`, `ContractError`, ...), raised with one wording
by `network.algod.algod_call` and `network.indexer.indexer_call` (import-linter contract). The
decisions about the network are made here once: is there an Indexer (`indexer.find_indexer`),
does an app exist (`algod.app_exists`), which app the environment names
(`settings.app_id_from_environment`).
"""
