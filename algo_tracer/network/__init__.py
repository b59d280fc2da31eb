"""The only code that talks to algod, the Indexer or KMD, or catches their errors.

Callers above it see only our errors (`NetworkError`, `ContractError`, ...), raised with one wording
by `network.algod.algod_call` and `network.indexer.indexer_call` (import-linter contract). The
decisions about the network are made here once: is there an Indexer (`indexer.find_indexer`),
does an app exist and is it a registry (`algod.app_exists`, `algod.require_registry`), which app
is the registry (`settings.registry_app_id`, one rule for every way in), and is a record from
this network (`identity.require_same_network`, by genesis hash).
"""
