"""`python -m algo_tracer.cli`, the same as the `algo-tracer` command."""

import sys

from algo_tracer.cli.main import main

sys.exit(main())
