"""The base every configuration model derives from, and the HOST:PORT types its fields use.

Unknown keys are refused (a typo must never be silently ignored), and each field carries
a description so the config reference in docs/ can be generated from the models.

Every address setting is one of two annotated types, so `logwarden config check` refuses an
impossible address with file:line before anything tries to bind or connect:
`Listen` (a socket this process binds: port 0-65535, 0 asking the OS for a free one) and
`Endpoints` (comma-separated HOST:PORT peers to connect to, such as Kafka's bootstrap
servers: port 1-65535). Both go through `parse_hostport`, which the runtime uses too.
"""
import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# RFC 1123 host names (underscores tolerated, as resolvers do); digits-and-dots must be IPv4.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
_DOTTED_NUMBERS = re.compile(r"[0-9.]+")


def _host_problem(host: str) -> str | None:
    if _DOTTED_NUMBERS.fullmatch(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return f"{host!r} is not an IPv4 address"
        return None
    if ":" in host:
        return f"IPv6 addresses go in brackets, as [{host}]:PORT"
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.rstrip(".").split(".")):
        return f"{host!r} is not a host name or IP address"
    return None


def parse_hostport(value: str, default_host: str = "127.0.0.1", *, min_port: int = 0) -> tuple[str, int]:
    """Split `host:port` (IPv6 as `[::1]:9092`); a bare `:port` or `port` binds the default host.
    ValueError says what is wrong: a port outside min_port..65535, or a host that is not an
    IPv4 address, a bracketed IPv6 address or a host name."""
    value = value.strip()
    if value.startswith("["):
        host, close, rest = value[1:].partition("]")
        if not close or (rest and not rest.startswith(":")):
            raise ValueError(f"expected [IPv6]:PORT, got {value!r}")
        port = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"expected HOST:PORT, got {value!r}: {host!r} is not an IPv6 address") from None
    else:
        if ":" in value:
            host, _, port = value.rpartition(":")
        else:
            host, port = "", value
        problem = _host_problem(host) if host else None
        if problem:
            raise ValueError(f"expected HOST:PORT, got {value!r}: {problem}")
    if not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {value!r}: the port is not a number")
    if not min_port <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}: port {int(port)} is outside {min_port}-65535")
    return host or default_host, int(port)


def _check_listen(value: str) -> str:
    parse_hostport(value)
    return value


def _check_endpoints(value: str) -> str:
    parts = [p.strip() for p in value.split(",")]
    if not all(parts):
        raise ValueError(f"expected HOST:PORT[,HOST:PORT...], got {value!r}")
    for part in parts:
        parse_hostport(part, min_port=1)
    return value


Listen = Annotated[str, AfterValidator(_check_listen)]
Endpoints = Annotated[str, AfterValidator(_check_endpoints)]
