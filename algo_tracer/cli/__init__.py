"""The `algo-tracer` command line: `main` parses, one module per command group does the work.

Nothing imports this package; it uses only the public modules of `record` and `verify`.
"""

from algo_tracer.cli.main import main

__all__ = ["main"]
