"""Per-source HTTP tokens.

Shippers authenticate in whatever way their Elasticsearch output supports, so all of
these carry the same secret:

    Authorization: Bearer <token>
    Authorization: ApiKey <token>                 (a pre-encoded key passed through verbatim)
    Authorization: ApiKey base64(<id>:<token>)    (Elasticsearch API key: id and key)
    Authorization: Basic base64(<user>:<token>)   (username/password outputs; user is ignored)

Comparison is constant-time (`hmac.compare_digest`). With no tokens configured, requests
need no credentials: bind the listener to loopback in that case.
"""
from __future__ import annotations

import base64
import binascii
import hmac

from .config import IngestToken


class AuthError(Exception):
    """401 with this message."""


class Authenticator:
    def __init__(self, tokens: list[IngestToken]):
        self.tokens = list(tokens)

    @property
    def required(self) -> bool:
        return bool(self.tokens)

    def _match(self, secret: str) -> IngestToken | None:
        found = None
        for t in self.tokens:  # no early exit: timing does not tell which token matched
            if hmac.compare_digest(t.token.encode(), secret.encode()):
                found = t
        return found

    def check(self, header: str | None) -> IngestToken | None:
        """The token's source for an Authorization header; None when auth is off."""
        if not self.required:
            return None
        if not header:
            raise AuthError("missing authentication credentials: send Authorization: Bearer <token> (or ApiKey / Basic)")
        scheme, _, value = header.strip().partition(" ")
        scheme, value = scheme.lower(), value.strip()
        candidates: list[str] = []
        if scheme in ("bearer", "apikey"):
            candidates.append(value)
        if scheme in ("apikey", "basic"):
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            if ":" in decoded:
                candidates.append(decoded.split(":", 1)[1])
        if scheme not in ("bearer", "apikey", "basic"):
            raise AuthError(f"unsupported authorization scheme {scheme!r}: use Bearer, ApiKey or Basic")
        for c in candidates:
            token = self._match(c)
            if token is not None:
                return token
        raise AuthError("invalid token")
