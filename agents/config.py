"""Configuration of log sources the agent tails (`sources:` in logwarden.yml)."""
from typing import Literal

from pydantic import Field

from logwarden.model import Model


class FileSource(Model):
    type: Literal["file"] = Field("file", description="A set of files found by glob and tailed.")
    paths: list[str] = Field(description="Glob patterns of files to tail, e.g. /var/log/nginx/*.log.")
    format: str | None = Field(None, description="Parser to use for these lines (nginx, sshd, syslog, json, auto...). Shipped as fields.log_format.")
    fields: dict[str, str] = Field(default_factory=dict, description="Extra fields added to every event under `fields`.")
    tags: list[str] = Field(default_factory=list, description="Tags added to every event.")
    start_at: Literal["beginning", "end"] = Field("beginning", description="Where to start reading a file seen for the first time.")
