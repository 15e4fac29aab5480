"""Configuration of the Sigma rules stage (`rules:` in logwarden.yml)."""
from pydantic import Field

from logwarden.model import Model


class RulesConfig(Model):
    paths: list[str] = Field(default_factory=list, description="Sigma rule files or folders (searched recursively for .yml).")
    mapping: str = Field("ecs", description="Field mapping applied to rules: ecs (Sigma names to ECS) or none.")
    min_level: str = Field("informational", description="Alerts below this level are not raised.")
