"""algo-tracer."""
