"""The declarative codec: every API's request and response round-trips at every version,
and the frame decoder survives arbitrary bytes (hypothesis)."""
from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logwarden.broker.protocol.frames import (FrameDecoder, FrameError, decode_response, encode_request,
                                              encode_response, parse_header)
from logwarden.broker.protocol.schemas import APIS, FETCH, PRODUCE
from logwarden.broker.protocol.types import DecodeError, Type

_INTS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}


def strategy(t: Type, version: int) -> st.SearchStrategy:
    n = t.name
    if n in _INTS:
        b = _INTS[n]
        return st.integers(-(1 << (b - 1)), (1 << (b - 1)) - 1)
    if n == "bool":
        return st.booleans()
    if n == "string":
        return st.text(max_size=8)
    if n == "nullable_string":
        return st.none() | st.text(max_size=8)
    if n == "bytes":
        return st.binary(max_size=8)
    if n in ("nullable_bytes", "records"):
        return st.none() | st.binary(max_size=8)
    if n == "array":
        return st.lists(strategy(t.item, version), max_size=3)
    if n == "nullable_array":
        return st.none() | st.lists(strategy(t.item, version), max_size=3)
    if n == "struct":
        fields = {f.name: strategy(f.type, version) for f in t.item if f.lo <= version <= f.hi}
        return st.fixed_dictionaries(fields)
    raise AssertionError(n)


def normalize(v):
    if isinstance(v, memoryview):
        return bytes(v)
    if isinstance(v, dict):
        return {k: normalize(x) for k, x in v.items()}
    if isinstance(v, list):
        return [normalize(x) for x in v]
    return v


CASES = [(api, v) for api in APIS.values() for v in range(api.min_version, api.max_version + 1)]


@settings(max_examples=len(CASES) * 6, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_every_request_and_response_round_trips(data):
    api, version = data.draw(st.sampled_from(CASES))
    req = data.draw(strategy(api.request, version))
    frame = encode_request(api.key, version, 7, "client", req)
    (got,) = FrameDecoder().feed(frame)
    hdr, pos = parse_header(got)
    assert (hdr.api_key, hdr.api_version, hdr.correlation_id, hdr.client_id) == (api.key, version, 7, "client")
    body, end = api.codecs(version)[0].decode(got, pos)
    assert end == len(got)
    assert normalize(body) == req

    resp = data.draw(strategy(api.response, version))
    out = b"".join(bytes(c) for c in encode_response(9, api.key, version, resp))
    assert struct.unpack(">i", out[:4])[0] == len(out) - 4
    corr, decoded = decode_response(api.key, version, out[4:])
    assert corr == 9 and normalize(decoded) == resp


def test_records_are_views_of_the_frame_not_copies():
    records = bytes(range(256)) * 64
    req = {"transactional_id": None, "acks": -1, "timeout_ms": 1000,
           "topics": [{"name": "t", "partitions": [{"index": 0, "records": records}]}]}
    (frame,) = FrameDecoder().feed(encode_request(0, 8, 1, None, req))
    hdr, pos = parse_header(frame)
    body, _ = PRODUCE.codecs(8)[0].decode(frame, pos)
    view = body["topics"][0]["partitions"][0]["records"]
    assert isinstance(view, memoryview) and view.obj is frame.obj and bytes(view) == records


def test_large_fetch_records_are_separate_chunks():
    big = memoryview(b"x" * 100_000)
    resp = {"responses": [{"topic": "t", "partitions": [{"partition_index": 0, "records": big}]}]}
    chunks = encode_response(1, FETCH.key, 11, resp)
    assert any(c is big for c in chunks)


def test_api_versions_v3_is_flexible_with_a_v0_response_header():
    frame = encode_request(18, 3, 5, "c", {"client_software_name": "x", "client_software_version": "1"})
    (got,) = FrameDecoder().feed(frame)
    hdr, pos = parse_header(got)
    assert got[pos:] == b"\x02x\x021\x00"  # compact strings + empty tagged fields
    out = b"".join(bytes(c) for c in encode_response(5, 18, 3, {"error_code": 0, "api_keys": [], "throttle_time_ms": 0}))
    assert out[4:8] == struct.pack(">i", 5) and out[8:10] == b"\0\0"  # no tagged fields after correlation id


def test_frame_sizes_out_of_range_are_refused():
    for size in (-1, 0, 9, 1 << 30):
        try:
            FrameDecoder(max_frame_bytes=1 << 20).feed(struct.pack(">i", size))
        except FrameError:
            continue
        raise AssertionError(f"size {size} accepted")


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.lists(st.integers(1, 50), max_size=10))
def test_frame_decoder_never_fails_unexpectedly(data, cuts):
    """Arbitrary bytes, split arbitrarily: frames, a FrameError, or a DecodeError - never anything else."""
    dec = FrameDecoder(max_frame_bytes=4096)
    pos = 0
    pieces = []
    for c in cuts:
        pieces.append(data[pos:pos + c])
        pos += c
    pieces.append(data[pos:])
    try:
        frames = [f for p in pieces for f in dec.feed(p)]
    except FrameError:
        return
    for f in frames:
        try:
            hdr, body_pos = parse_header(f)
            api = APIS.get(hdr.api_key)
            if api is not None and api.min_version <= hdr.api_version <= api.max_version:
                api.codecs(hdr.api_version)[0].decode(f, body_pos)
        except DecodeError:
            pass


@settings(max_examples=200)
@given(st.lists(st.binary(min_size=10, max_size=60), min_size=1, max_size=5), st.integers(1, 17))
def test_frames_survive_any_split(bodies, step):
    stream = b"".join(struct.pack(">i", len(b)) + b for b in bodies)
    dec = FrameDecoder()
    got = []
    for i in range(0, len(stream), step):
        got += [bytes(f) for f in dec.feed(stream[i:i + step])]
    assert got == bodies


def test_frame_buffers_are_reused_only_when_nothing_holds_the_last_frame():
    """A large frame's buffer serves the connection's next frame (no zero-fill of a new one),
    but never while a memoryview of the previous frame is alive - a request parked with
    its body, or records still being written, keep their bytes."""
    from logwarden.broker.protocol.frames import REUSE_MIN_BYTES, FrameDecoder

    def framed(fill: int, size: int) -> bytes:
        return size.to_bytes(4, "big") + bytes([fill]) * size

    d = FrameDecoder()
    size = REUSE_MIN_BYTES * 2
    (first,) = d.feed(framed(1, size))
    held = first[10:20]  # a slice of the first frame stays alive
    del first
    (second,) = d.feed(framed(2, size))
    assert bytes(held) == b"\x01" * 10  # untouched: the second frame got a buffer of its own
    assert bytes(second[:4]) == b"\x02" * 4 and len(second) == size
    second_obj = second.obj
    del held, second
    (third,) = d.feed(framed(3, size - 100))  # nothing holds the second: its buffer is reused
    assert third.obj is second_obj and len(third) == size - 100 and bytes(third[-1:]) == b"\x03"
    del third
    (small,) = d.feed(framed(4, 100))  # small frames get their own small buffers
    assert small.obj is not second_obj and bytes(small) == b"\x04" * 100
