"""Configuration of the built-in broker (`broker:` in logwarden.yml)."""
from pydantic import Field, field_validator

from logwarden.model import Model, parse_hostport


class BrokerConfig(Model):
    embedded: bool = Field(True, description="Run the built-in broker. Set false and point `kafka.bootstrap_servers` at a Kafka cluster to scale out.")
    listen: str = Field("127.0.0.1:9092", description="HOST:PORT the Kafka-protocol listener binds; loopback by default.")
    auto_create_topics: bool = Field(True, description="Create a topic on first produce or metadata request, as Kafka's auto.create.topics.enable.")
    default_partitions: int = Field(4, ge=1, le=1024, description="Partitions of an auto-created topic.")

    @field_validator("listen")
    @classmethod
    def _hostport(cls, v: str) -> str:
        parse_hostport(v)
        return v
