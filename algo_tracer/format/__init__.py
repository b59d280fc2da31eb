"""Pure bytes, no I/O: the chain folds, box layouts, events, ids, records, Merkle trees, notes and
transaction proofs, exactly as docs/onchain-format.md and docs/note-format.md fix them.

Imports only `errors`, `hashing` and each other, never the network (import-linter contract).
"""
