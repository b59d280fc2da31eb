"""The write path: the `Tracer` and `Experiment` API, the exactly-once writer and the protocol of
what it uses of the registry (`registry_protocol.WriterRegistry`), the SQLite journal, the
pending-record log, the per-experiment process lock, and the manifest built from the journal.

Never imports `verify` (import-linter contract).
"""
