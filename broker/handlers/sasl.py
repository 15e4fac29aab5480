"""SaslHandshake and SaslAuthenticate (KIP-152), plus the legacy v0 flow of bare tokens.

As Kafka's SaslServerAuthenticator: any failure during authentication - an unsupported
mechanism, SaslAuthenticate before SaslHandshake, wrong credentials - is answered and the
connection is then closed, a failed login only after a delay (Kafka's
connection.failed.authentication.delay.ms), so a client cannot try password after
password on one connection at full speed. Once a connection is authenticated (or on a
listener without SASL) both requests get ILLEGAL_SASL_STATE and the connection stays.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from logwarden.broker.protocol import errors as E
from logwarden.broker.security.scram import AuthError, server_for

log = logging.getLogger("logwarden.broker.sasl")

FAILED_AUTHENTICATION_DELAY_S = 0.1  # Kafka's connection.failed.authentication.delay.ms default


def handle_sasl_handshake(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    mech = req["mechanism"]
    if session.authenticated:  # authenticated already, or a listener without SASL
        return {"error_code": E.ILLEGAL_SASL_STATE, "mechanisms": ctx.sasl_mechanisms}
    if mech not in ctx.sasl_mechanisms:
        session.close_after_response = "unsupported SASL mechanism"
        return {"error_code": E.UNSUPPORTED_SASL_MECHANISM, "mechanisms": ctx.sasl_mechanisms}
    session.sasl = server_for(mech, ctx.sasl_users)
    session.sasl_mechanism = mech
    session.raw_sasl = hdr.api_version == 0
    return {"error_code": E.NONE, "mechanisms": ctx.sasl_mechanisms}


def _step(session: Any, token: bytes) -> tuple[int, str | None, bytes]:
    if session.sasl is None:
        return E.ILLEGAL_SASL_STATE, "SaslHandshake must come first", b""
    try:
        out = session.sasl.step(token)
    except (AuthError, ValueError, UnicodeDecodeError) as exc:
        log.warning("SASL authentication failed from %s (%s): %s", session.peer, session.sasl_mechanism, exc, extra={"peer": str(session.peer), "mechanism": session.sasl_mechanism,
                                                         "reason": str(exc)})
        session.sasl = None
        return E.SASL_AUTHENTICATION_FAILED, f"Authentication failed: {exc}", b""
    if session.sasl.done:
        session.authenticated = True
        session.principal = session.sasl.principal
        session.raw_sasl = False
        log.info("SASL authenticated %s as %s (%s)", session.peer, session.principal, session.sasl_mechanism, extra={"peer": str(session.peer), "principal": session.principal,
                                              "mechanism": session.sasl_mechanism})
    return E.NONE, None, out


def handle_sasl_authenticate(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> Any:
    if session.authenticated:  # Kafka: no second login on a connection (KIP-368 re-authentication is not offered)
        return {"error_code": E.ILLEGAL_SASL_STATE, "auth_bytes": b"", "session_lifetime_ms": 0,
                "error_message": "SaslAuthenticate request received after successful authentication"}
    code, msg, out = _step(session, req["auth_bytes"])
    resp = {"error_code": code, "error_message": msg, "auth_bytes": out, "session_lifetime_ms": 0}
    if code == E.NONE:
        return resp
    session.close_after_response = "SASL authentication failed"
    if code != E.SASL_AUTHENTICATION_FAILED:
        return resp
    return _after(FAILED_AUTHENTICATION_DELAY_S, resp)


async def _after(delay_s: float, resp: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(delay_s)
    return resp


def raw_token(ctx: Any, session: Any, token: bytes) -> bytes:
    """SaslHandshake v0: tokens travel as bare size-prefixed frames; failure closes the socket."""
    code, msg, out = _step(session, token)
    if code:
        raise ConnectionAbortedError(msg)
    return out
