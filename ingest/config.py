"""Configuration of network receivers (`ingest:` in logwarden.yml).

Listeners are `HOST:PORT` strings and stay off when empty. HTTP callers authenticate with
per-source tokens; each token names its source, which is shipped with every event it sent
(`fields.ingest_source`) and can set a default parser format, fields and tags.
"""
from pydantic import Field, model_validator

from logwarden.model import Listen, Model


class IngestToken(Model):
    name: str = Field(description="Name of the source using this token; shipped as fields.ingest_source.")
    token: str = Field(min_length=8, description="The secret (use ${ENV_VAR}). Sent as `Authorization: Bearer <token>`, `ApiKey <token>`, `ApiKey base64(<id>:<token>)`, or as the password of Basic auth.")
    format: str | None = Field(None, description="Default fields.log_format for events sent with this token (a `format` query parameter overrides it).")
    fields: dict[str, str] = Field(default_factory=dict, description="Extra fields added to every event sent with this token.")
    tags: list[str] = Field(default_factory=list, description="Tags added to every event sent with this token.")


class IngestConfig(Model):
    syslog_udp: Listen | None = Field(None, description="HOST:PORT for syslog over UDP; off when empty.")
    syslog_tcp: Listen | None = Field(None, description="HOST:PORT for syslog over TCP (octet counting or newline framing); off when empty.")
    syslog_tls: Listen | None = Field(None, description="HOST:PORT for syslog over TLS (RFC 5425; same framing as TCP); needs tls_cert_file and tls_key_file.")
    http: Listen | None = Field(None, description="HOST:PORT for HTTP NDJSON (POST /ingest) and the Elasticsearch _bulk API; off when empty.")
    http_tls: bool = Field(False, description="Serve HTTP ingest (`http`) over HTTPS with tls_cert_file/tls_key_file (and client certificates when tls_client_ca_file is set).")
    tls_cert_file: str | None = Field(None, description="PEM certificate (chain) of the TLS listeners (syslog_tls, and http with http_tls).")
    tls_key_file: str | None = Field(None, description="PEM private key of the TLS listeners.")
    tls_client_ca_file: str | None = Field(None, description="When set, clients of the TLS listeners must present a certificate signed by this CA.")
    syslog_format: str = Field("syslog", description="fields.log_format of syslog messages (the parser that reads RFC 3164/5424).")
    syslog_max_message_bytes: int = Field(65536, ge=480, description="Longer syslog messages are cut and flagged log.flags ['truncated'] (RFC 5425 asks receivers to take at least 2048 bytes).")
    tokens: list[IngestToken] = Field(default_factory=list, description="Accepted HTTP tokens; when empty, HTTP ingest needs no authentication (bind it to loopback).")
    http_max_body_bytes: int = Field(16 * 1048576, ge=1024, description="Larger HTTP request bodies are refused with 413.")
    es_version: str = Field("8.17.0", description="Elasticsearch version reported by GET / so shippers' version checks pass.")
    spool_max_bytes: int = Field(268_435_456, ge=0, description="Disk spool for syslog records the broker did not take in time (<data_dir>/ingest/spool), replayed when it is back; when full, further such records are lost and counted. 0 disables it. HTTP senders are answered with an error instead and retry.")
    retry_backoff_ms: int = Field(100, ge=1, description="First wait before replaying the spool after a failed replay; doubles up to retry_backoff_max_ms.")
    retry_backoff_max_ms: int = Field(5000, ge=1, description="Longest wait between spool replay attempts.")
    delivery_timeout_ms: int = Field(30000, ge=100, description="How long a record may take to be acknowledged (acks=all); an HTTP request waits for its records and fails its items after this.")

    @model_validator(mode="after")
    def _check(self) -> "IngestConfig":
        if self.syslog_tls and not (self.tls_cert_file and self.tls_key_file):
            raise ValueError("syslog_tls needs tls_cert_file and tls_key_file")
        if self.http_tls and not (self.tls_cert_file and self.tls_key_file):
            raise ValueError("http_tls needs tls_cert_file and tls_key_file")
        names = [t.name for t in self.tokens]
        if len(set(names)) != len(names):
            raise ValueError("token names must be unique")
        return self
