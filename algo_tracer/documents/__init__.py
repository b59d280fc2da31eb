"""Our JSON documents: atomic write and read, the manifest, model card, datasheet and their schemas.

Never imports `network`, `record` or `verify` (import-linter contract).
"""
