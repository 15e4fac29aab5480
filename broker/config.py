"""Configuration of the built-in broker (`broker:` in logwarden.yml)."""
from typing import Literal

from pydantic import Field, model_validator

from logwarden.model import Listen, Model


class SaslUser(Model):
    scram_sha_256: str | None = Field(None, description="SCRAM-SHA-256 credential `salt:iterations:stored_key:server_key` (base64), never the password.")
    scram_sha_512: str | None = Field(None, description="SCRAM-SHA-512 credential in the same form.")


class AclConfig(Model):
    """One ACL entry, as `kafka-acls.sh --add` takes it: who, what, on which resource."""

    principal: str = Field(pattern=r"^User:.+$", description="`User:<SASL user>`, `User:ANONYMOUS` (no SASL on the listener) or `User:*` (everyone).")
    operations: list[Literal["Read", "Write", "Create", "Delete", "Alter", "Describe", "DescribeConfigs", "AlterConfigs", "IdempotentWrite", "All"]] = Field(
        min_length=1, description="Kafka operations allowed (or denied); Read/Write/Delete/Alter imply Describe, AlterConfigs implies DescribeConfigs.")
    topic: str | None = Field(None, min_length=1, description="A topic name, `*` for all, or a prefix ending in `*` (e.g. `logs.*`).")
    group: str | None = Field(None, min_length=1, description="A consumer group name, `*` or a prefix ending in `*`.")
    cluster: bool = Field(False, description="The cluster itself (creating topics, IdempotentWrite, the broker's configs).")
    permission: Literal["allow", "deny"] = Field("allow", description="A deny entry wins over every allow.")

    @model_validator(mode="after")
    def _one_resource(self) -> "AclConfig":
        if sum([self.topic is not None, self.group is not None, self.cluster]) != 1:
            raise ValueError("an ACL names exactly one resource: topic, group or cluster: true")
        return self


class BrokerConfig(Model):
    embedded: bool = Field(True, description="Run the built-in broker. Set false and point `kafka.bootstrap_servers` at a Kafka cluster to scale out.")
    listen: Listen = Field("127.0.0.1:9092", description="HOST:PORT the Kafka-protocol listener binds; loopback by default.")
    auto_create_topics: bool = Field(True, description="Create a topic on first produce or metadata request, as Kafka's auto.create.topics.enable.")
    default_partitions: int = Field(4, ge=1, le=1024, description="Partitions of an auto-created topic.")
    # -- protocol & security (owned by the protocol side: broker/server.py, broker/security/) --
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field("PLAINTEXT", description="Kafka security.protocol of the listener: TLS (SSL) and/or SASL authentication.")
    tls_certfile: str | None = Field(None, description="PEM certificate chain of the listener (SSL, SASL_SSL).")
    tls_keyfile: str | None = Field(None, description="PEM private key of the listener (SSL, SASL_SSL).")
    tls_cafile: str | None = Field(None, description="PEM CA bundle; when set, clients must present a certificate it signed (mutual TLS).")
    sasl_mechanisms: list[Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]] = Field(default_factory=lambda: ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"], description="SASL mechanisms offered (SASL_PLAINTEXT, SASL_SSL).")
    sasl_users: dict[str, SaslUser] = Field(default_factory=dict, description="SASL users with hashed credentials; `python -m logwarden.broker.security.scram USER` prints an entry.")
    acls: list[AclConfig] = Field(default_factory=list, description="Authorization (docs/broker.md#authorization): when any entry is set, a client may do only what an entry allows its principal; Kafka's TOPIC_/GROUP_/CLUSTER_AUTHORIZATION_FAILED otherwise. Empty: every client may do everything.")
    super_users: list[str] = Field(default_factory=list, description="Principals (`User:<name>`) never refused by the ACLs, as Kafka's super.users.")
    connections_max_idle_ms: int = Field(600_000, ge=100, description="Close a client connection that sent nothing for this long (Kafka connections.max.idle.ms), so vanished clients do not hold sockets forever.")
    max_request_bytes: int = Field(100 * 1024 * 1024, ge=1024, description="Largest request frame accepted (Kafka socket.request.max.bytes); bigger ones close the connection.")
