"""Kafka wire primitives and declarative struct codecs (sans-IO).

A message schema is a tree of `Field`s, each valid for a range of API versions. For one
(version, flexible) pair the tree is compiled once into a `StructCodec`, a list of
(name, codec) pairs; decoding yields plain dicts and encoding reads dicts, taking the
fields that exist in that version and defaults for the ones a handler left out.

Flexible versions (KIP-482) swap strings/arrays/bytes for their "compact" forms (unsigned
varint length + 1) and end every struct with a tagged-field section; `compile(version,
flexible)` picks the right primitive for each field, so a schema is written once.

Record data never gets decoded here: a `RECORDS` field decodes to a memoryview slice of
the request frame and encodes by appending the caller's buffer as its own chunk, so a
Produce or Fetch body is moved, not copied, between the socket and the log.
"""
from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

_i8 = struct.Struct(">b")
_i16 = struct.Struct(">h")
_i32 = struct.Struct(">i")
_i64 = struct.Struct(">q")
_u32 = struct.Struct(">I")
_f64 = struct.Struct(">d")

# Buffers at least this large are handed to the transport as separate chunks instead of
# being copied into the response's header bytearray.
ZERO_COPY_MIN = 4096


@dataclass(frozen=True, slots=True)
class FileRegion:
    """Bytes [position, position + size) of an open log segment, to be sent with sendfile
    instead of being read into memory; the codec treats it as an opaque chunk."""

    fileobj: Any
    position: int
    size: int

    def __len__(self) -> int:
        return self.size


class DecodeError(ValueError):
    """The peer sent bytes that do not match the schema (truncated, negative length...)."""


class Writer:
    """Accumulates an encoded message as a bytearray plus large zero-copy chunks."""

    __slots__ = ("buf", "chunks", "size")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.chunks: list[Any] = []
        self.size = 0  # bytes already moved into chunks

    def raw(self, data: Any) -> None:
        n = len(data)
        if n >= ZERO_COPY_MIN:
            if self.buf:
                self.chunks.append(self.buf)
                self.size += len(self.buf)
                self.buf = bytearray()
            self.chunks.append(data)
            self.size += n
        else:
            self.buf += data

    def finish(self) -> list[Any]:
        if self.buf:
            self.chunks.append(self.buf)
            self.size += len(self.buf)
            self.buf = bytearray()
        return self.chunks

    def __len__(self) -> int:
        return self.size + len(self.buf)


def read_uvarint(buf: memoryview, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def write_uvarint(w: Writer | bytearray, value: int) -> None:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    if isinstance(w, Writer):
        w.buf += out
    else:
        w += out


class Codec(ABC):
    """One wire type for one (version, flexible) pair."""

    @abstractmethod
    def decode(self, buf: memoryview, pos: int) -> tuple[Any, int]:
        """(value, position after it) read from buf at pos."""

    @abstractmethod
    def encode(self, w: Writer, value: Any) -> None:
        """Append value's wire form to w."""


class _Fixed(Codec):
    def __init__(self, st: struct.Struct, default: Any = 0):
        self.st, self.size, self.default = st, st.size, default

    def decode(self, buf: memoryview, pos: int) -> tuple[Any, int]:
        end = pos + self.size
        if end > len(buf):
            raise DecodeError("truncated")
        return self.st.unpack_from(buf, pos)[0], end

    def encode(self, w: Writer, value: Any) -> None:
        w.buf += self.st.pack(self.default if value is None else value)


class _Bool(Codec):
    def decode(self, buf: memoryview, pos: int) -> tuple[Any, int]:
        if pos >= len(buf):
            raise DecodeError("truncated")
        return buf[pos] != 0, pos + 1

    def encode(self, w: Writer, value: Any) -> None:
        w.buf.append(1 if value else 0)


class _Blob(Codec):
    """string / bytes / records in classic (int16/int32 length) or compact (uvarint) form."""

    def __init__(self, kind: str, nullable: bool, compact: bool):
        self.kind, self.nullable, self.compact = kind, nullable, compact
        self.len_st = _i16 if kind == "string" else _i32

    def decode(self, buf: memoryview, pos: int) -> tuple[Any, int]:
        if self.compact:
            n, pos = read_uvarint(buf, pos)
            n -= 1
        else:
            if pos + self.len_st.size > len(buf):
                raise DecodeError("truncated length")
            n = self.len_st.unpack_from(buf, pos)[0]
            pos += self.len_st.size
        if n < 0:
            if n == -1 and self.nullable:
                return None, pos
            raise DecodeError(f"negative length {n}")
        end = pos + n
        if end > len(buf):
            raise DecodeError(f"length {n} runs past the end of the frame")
        if self.kind == "string":
            try:
                return str(buf[pos:end], "utf-8"), end
            except UnicodeDecodeError as exc:
                raise DecodeError("string is not UTF-8") from exc
        if self.kind == "bytes":
            return bytes(buf[pos:end]), end
        return buf[pos:end], end  # records: zero-copy view of the frame

    def encode(self, w: Writer, value: Any) -> None:
        if value is None:
            if not self.nullable:
                value = "" if self.kind == "string" else b""
            else:
                if self.compact:
                    w.buf.append(0)
                else:
                    w.buf += self.len_st.pack(-1)
                return
        data = value.encode() if isinstance(value, str) else value
        n = len(data)
        if self.compact:
            write_uvarint(w, n + 1)
        else:
            w.buf += self.len_st.pack(n)
        if self.kind == "records":
            w.raw(data)
        else:
            w.buf += data


class _Array(Codec):
    def __init__(self, item: Codec, nullable: bool, compact: bool):
        self.item, self.nullable, self.compact = item, nullable, compact

    def decode(self, buf: memoryview, pos: int) -> tuple[Any, int]:
        if self.compact:
            n, pos = read_uvarint(buf, pos)
            n -= 1
        else:
            if pos + 4 > len(buf):
                raise DecodeError("truncated array length")
            n = _i32.unpack_from(buf, pos)[0]
            pos += 4
        if n < 0:
            if n == -1 and self.nullable:
                return None, pos
            raise DecodeError(f"negative array length {n}")
        if n > len(buf) - pos:  # every element takes at least one byte
            raise DecodeError(f"array length {n} exceeds the frame")
        out = []
        dec = self.item.decode
        for _ in range(n):
            v, pos = dec(buf, pos)
            out.append(v)
        return out, pos

    def encode(self, w: Writer, value: Any) -> None:
        if value is None:
            if self.nullable:
                if self.compact:
                    w.buf.append(0)
                else:
                    w.buf += _i32.pack(-1)
                return
            value = ()
        if self.compact:
            write_uvarint(w, len(value) + 1)
        else:
            w.buf += _i32.pack(len(value))
        enc = self.item.encode
        for v in value:
            enc(w, v)


def skip_tagged_fields(buf: memoryview, pos: int) -> int:
    n, pos = read_uvarint(buf, pos)
    for _ in range(n):
        _tag, pos = read_uvarint(buf, pos)
        size, pos = read_uvarint(buf, pos)
        pos += size
        if pos > len(buf):
            raise DecodeError("truncated tagged field")
    return pos


class StructCodec(Codec):
    def __init__(self, fields: list[tuple[str, Codec, Any]], flexible: bool):
        self.fields, self.flexible = fields, flexible

    def decode(self, buf: memoryview, pos: int) -> tuple[Any, int]:
        out: dict[str, Any] = {}
        for name, codec, _default in self.fields:
            out[name], pos = codec.decode(buf, pos)
        if self.flexible:
            pos = skip_tagged_fields(buf, pos)  # no tagged field is used by this broker
        return out, pos

    def encode(self, w: Writer, value: Any) -> None:
        get = value.get
        for name, codec, default in self.fields:
            v = get(name, default)
            codec.encode(w, v)
        if self.flexible:
            w.buf.append(0)


# ---- declarative schema nodes -------------------------------------------------------

@dataclass(frozen=True)
class Type:
    """A schema type; `compile` turns it into a codec for one version."""

    name: str
    item: Any = None  # element Type for arrays, tuple of Fields for structs

    def compile(self, version: int, flexible: bool) -> Codec:
        n = self.name
        if n in _FIXED:
            return _FIXED[n]
        if n == "bool":
            return _Bool()
        if n in ("string", "nullable_string"):
            return _Blob("string", n.startswith("nullable"), flexible)
        if n in ("bytes", "nullable_bytes"):
            return _Blob("bytes", n.startswith("nullable"), flexible)
        if n == "records":
            return _Blob("records", True, flexible)
        if n in ("array", "nullable_array"):
            return _Array(self.item.compile(version, flexible), n.startswith("nullable"), flexible)
        if n == "struct":
            return StructCodec(
                [(f.name, f.type.compile(version, flexible), f.default) for f in self.item if f.lo <= version <= f.hi],
                flexible,
            )
        raise ValueError(n)


_FIXED = {
    "int8": _Fixed(_i8), "int16": _Fixed(_i16), "int32": _Fixed(_i32),
    "int64": _Fixed(_i64), "uint32": _Fixed(_u32), "float64": _Fixed(_f64, 0.0),
}


@dataclass(frozen=True)
class Field:
    name: str
    type: Type
    lo: int = 0
    hi: int = 1 << 15
    default: Any = None


INT8, INT16, INT32, INT64 = Type("int8"), Type("int16"), Type("int32"), Type("int64")
BOOL, STRING, NSTRING = Type("bool"), Type("string"), Type("nullable_string")
BYTES, NBYTES, RECORDS = Type("bytes"), Type("nullable_bytes"), Type("records")


def Array(item: Type) -> Type:
    return Type("array", item)


def NArray(item: Type) -> Type:
    return Type("nullable_array", item)


def Struct(*fields: Field) -> Type:
    return Type("struct", tuple(fields))


def F(name: str, type_: Type, versions: str = "0+", default: Any = None) -> Field:
    """`versions` as Kafka's JSON schemas write it: "3+" or "1-4"."""
    if versions.endswith("+"):
        lo, hi = int(versions[:-1]), 1 << 15
    elif "-" in versions:
        a, b = versions.split("-")
        lo, hi = int(a), int(b)
    else:
        lo = hi = int(versions)
    return Field(name, type_, lo, hi, default)
