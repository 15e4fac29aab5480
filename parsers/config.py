"""Configuration of the parser stage (`parsers:` in logwarden.yml)."""
from pydantic import Field

from logwarden.model import Model


class ParsersConfig(Model):
    workers: int = Field(1, ge=1, le=64, description="Parser processes in the consumer group (one per core is a good start).")
    default_format: str = Field("auto", description="Format used when an event names none (fields.log_format).")
