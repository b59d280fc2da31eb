"""Integrations of algo-tracer with other tools, each behind its own optional extra.

* `algo_tracer.integrations.mlflow` (extra ``algo-tracer[mlflow]``): a tracking-store plugin for
  ``algotrace+sqlite:`` / ``algotrace+file:`` URIs, a run-context provider, `autotrace()` and
  `verify_mlflow_run()`. See docs/mlflow.md.
* `algo_tracer.integrations.signed_models` (``pip install model-signing``): a model directory
  traced together with its OpenSSF model_signing signature, and both verified. See
  docs/interop.md §4.

Nothing here is imported by ``import algo_tracer``; each integration imports its tool lazily.
"""
