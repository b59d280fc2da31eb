# The two commands of the README. Both set up a fresh machine first (scripts/bootstrap.sh).
.PHONY: demo test lint test-torch bootstrap

UV := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/algo-tracer/tools/bin/uv

bootstrap:
	@bash scripts/bootstrap.sh

# Main job: start the local network, deploy the registry, trace a real experiment, verify it.
demo: bootstrap
	@.venv/bin/algo-tracer demo

# The whole test suite, integration tests against the real local network included, after the
# static checks (lint).
test: bootstrap lint
	@.venv/bin/python -m pytest

# Static checks: ruff (style, bugs), import-linter (the import rules of docs/design.md), mypy
# (strict for format, hashing, stages, network, record, verify).
lint: bootstrap
	@echo "[lint] ruff" && .venv/bin/ruff check --quiet .
	@echo "[lint] import-linter" && .venv/bin/lint-imports --no-cache --no-logo
	@echo "[lint] mypy" && .venv/bin/mypy

# Optional, not part of `make test`: the PyTorch path (state_dict hashing, deterministic switches)
# against real torch, layered over the locked environment for this run only. torch from PyPI
# brings several GB of CUDA wheels, which is why it is not a dependency.
test-torch: bootstrap
	@$(UV) run --frozen --with 'torch>=2.4' python -m pytest -rs tests/test_torch.py \
		tests/test_hashing.py tests/test_seeding.py tests/test_capture.py
