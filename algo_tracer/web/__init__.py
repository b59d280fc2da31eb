"""The verification web page: `algo-tracer serve`, a JSON API and one page (docs/web.md).

    $ algo-tracer serve --port 8000
    # open http://127.0.0.1:8000/?app=<registry app id>&id=<experiment id>

`algo_tracer.web.app.create_app()` builds the FastAPI application; it needs the `web` extra
(`pip install 'algo-tracer[web]'`: FastAPI and uvicorn). This package's `__init__` and
`algo_tracer.cli.serve` import neither, so the `algo-tracer` command line works without them.
"""
