"""Configuration of network receivers (`ingest:` in logwarden.yml)."""
from pydantic import Field

from logwarden.model import Model


class IngestConfig(Model):
    syslog_udp: str | None = Field(None, description="HOST:PORT for syslog over UDP; off when empty.")
    syslog_tcp: str | None = Field(None, description="HOST:PORT for syslog over TCP (octet counting or newline framing); off when empty.")
    http: str | None = Field(None, description="HOST:PORT for HTTP NDJSON and the Elasticsearch _bulk API; off when empty.")
