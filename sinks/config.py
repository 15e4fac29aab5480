"""Configuration of the search index sink (`index:` in logwarden.yml)."""
from typing import Literal

from pydantic import Field

from logwarden.model import Model


class IndexConfig(Model):
    type: Literal["embedded", "elasticsearch"] = Field("embedded", description="embedded (tantivy in the data dir) or elasticsearch.")
    commit_interval_ms: int = Field(1000, ge=50, description="How often the embedded index commits; offsets are committed after it.")
    elasticsearch_url: str | None = Field(None, description="Elasticsearch/OpenSearch endpoint when type is elasticsearch.")
