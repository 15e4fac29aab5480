"""The base every configuration model derives from.

Unknown keys are refused (a typo must never be silently ignored), and each field carries
a description so the config reference in docs/ can be generated from the models.
"""
from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def parse_hostport(value: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """Split `host:port` (IPv6 as `[::1]:9092`); a bare `:port` or `port` binds the default host."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.lstrip(":")
    elif ":" in value:
        host, _, port = value.rpartition(":")
    else:
        host, port = "", value
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host or default_host, int(port)
