"""Run the HTTP app under uvicorn on http.listen (HTTPS when http.tls names a certificate)."""
from __future__ import annotations

import uvicorn

from logwarden.config import Config
from logwarden.http.app import build_app
from logwarden.model import parse_hostport


def serve(cfg: Config) -> None:
    host, port = parse_hostport(cfg.http.listen)
    tls = cfg.http.tls
    uvicorn.run(build_app(cfg), host=host, port=port, log_config=None, access_log=False,
                ssl_certfile=tls.cert_file, ssl_keyfile=tls.key_file)
