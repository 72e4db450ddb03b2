"""Baseline of `bench/ingest.py`: a FastAPI app that accepts `POST /v1/events`, does nothing.

It runs on the same uvicorn settings as `slad run` (no access log, the event loop and
HTTP parser uvicorn picks: uvloop and httptools, which slad depends on), so the gap
between its rate and slad's is what ingest itself costs: authentication, validation,
the store and the commit.

    .venv/bin/python bench/bare_app.py --port 9001
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from fastapi import FastAPI


def create_bare_app() -> FastAPI:
    """An app whose ingest route parses the JSON body and answers at once."""
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/events")
    async def post_events(body: dict[str, Any]) -> dict[str, list[object]]:
        return {"results": []}

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(
        create_bare_app(), host=args.host, port=args.port, log_config=None, access_log=False
    )


if __name__ == "__main__":
    main()
