# The two commands of the README. Both set up a fresh machine first (scripts/bootstrap.sh).
.PHONY: demo test bootstrap

bootstrap:
	@bash scripts/bootstrap.sh

# Main job: start the local network, deploy the registry, trace a real experiment, verify it.
demo: bootstrap
	@.venv/bin/algo-tracer demo

# The whole test suite, integration tests against the real local network included.
test: bootstrap
	@.venv/bin/python -m pytest
