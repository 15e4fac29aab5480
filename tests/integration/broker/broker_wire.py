"""Talk to a broker in raw Kafka frames, for requests no client library sends on demand
(malformed, out of order, of an old version). The broker process itself is lwtest.Broker."""
from __future__ import annotations

import socket
import struct

from logwarden.broker.protocol.frames import decode_response, encode_request


def recv_exact(s: socket.socket, n: int) -> bytes:
    """Exactly n bytes, or ConnectionError when the broker closes the connection first."""
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed by broker")
        buf += chunk
    return bytes(buf)


def kafka_call(s: socket.socket, api: int, version: int, body: dict, corr: int = 1,
               resp_version: int | None = None, client_id: str = "logwarden-test") -> dict:
    """Send one request on an open connection and return its decoded response body."""
    s.sendall(encode_request(api, version, corr, client_id, body))
    size = struct.unpack(">i", recv_exact(s, 4))[0]
    got_corr, resp = decode_response(api, version if resp_version is None else resp_version, recv_exact(s, size))
    assert got_corr == corr
    return resp
