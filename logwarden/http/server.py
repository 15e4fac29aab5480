"""Run the HTTP app under uvicorn on http.listen."""
from __future__ import annotations

import uvicorn

from logwarden.config import Config
from logwarden.http.app import build_app
from logwarden.model import parse_hostport


def serve(cfg: Config) -> None:
    host, port = parse_hostport(cfg.http.listen)
    uvicorn.run(build_app(cfg), host=host, port=port, log_config=None, access_log=False)
