"""Configuration of the Sigma rules stage (`rules:` in logwarden.yml)."""
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from logwarden.durations import parse_duration
from logwarden.model import Model

def _check_duration(v: str) -> str:
    if parse_duration(v).total_seconds() <= 0:
        raise ValueError("must be longer than 0s")
    return v


Level = Literal["informational", "low", "medium", "high", "critical"]


class SuppressionConfig(Model):
    rule: str = Field("*", description="Rule id, name or title this applies to; shell wildcards allowed ('*' = every rule). A rule's own `suppression:` key wins over this.")
    group_by: list[str] = Field(default_factory=list, description="Event fields whose values form the alert's key (e.g. [source.ip]); for a correlation a subset of its group-by. Empty: the default key (a correlation's group-by; rules.suppression.by for a single-event rule).")
    window: str = Field("10m", description="An open alert with this key takes every later match as an update (count, last_seen) until this long passes without one, in event time (e.g. 10m, 1h); then it is recovered and the next match opens a new alert.")

    @field_validator("window")
    @classmethod
    def _duration(cls, v: str) -> str:
        return _check_duration(v)


class SuppressionDefaults(Model):
    window: str | None = Field(None, description="How long an alert stays open without a new match, in event time (e.g. 10m): later matches of its key update it; after this quiet time it is recovered and the next match opens a new alert. Empty: a correlation's own timespan, 10m for a single-event rule.")
    by: list[str] = Field(default_factory=lambda: ["host.name"], description="The key of a single-event rule's alerts: one open alert per rule and value of these event fields. A correlation's key is its group-by.")

    @field_validator("window")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        return v if v is None else _check_duration(v)


class NotifierConfig(Model):
    type: Literal["webhook", "slack", "smtp", "file"] = Field(description="webhook (JSON POST), slack (Slack-style incoming webhook), smtp (e-mail) or file (NDJSON lines).")
    min_level: Level = Field("low", description="Only alerts at or above this level are sent.")
    url: str | None = Field(None, description="webhook/slack: the endpoint to POST to.")
    headers: dict[str, str] = Field(default_factory=dict, description="webhook: extra HTTP headers (use ${ENV_VAR} for tokens).")
    retries: int = Field(3, ge=0, le=20, description="webhook/slack: attempts after the first failure, with exponential backoff.")
    timeout_ms: int = Field(5000, ge=100, description="webhook/slack/smtp: per-attempt timeout.")
    path: str | None = Field(None, description="file: where alert lines are appended.")
    smtp_host: str = Field("127.0.0.1", description="smtp: server host.")
    smtp_port: int = Field(25, description="smtp: server port.")
    smtp_starttls: bool = Field(False, description="smtp: upgrade the connection with STARTTLS.")
    smtp_username: str | None = Field(None, description="smtp: login user (optional).")
    smtp_password: str | None = Field(None, description="smtp: login password; use ${ENV_VAR}.")
    mail_from: str = Field("logwarden@localhost", description="smtp: From address.")
    mail_to: list[str] = Field(default_factory=list, description="smtp: recipients.")
    escalation: list[int] = Field(default_factory=lambda: [10, 100, 1000], description="Besides on opening, notify when an open alert's count reaches one of these (once each); [] notifies on open only. Updates in between are not sent.")
    on_recovery: bool = Field(False, description="Also notify when an alert is recovered (its suppression window passed without a new match).")
    template: str | None = Field(None, description="jinja2 template (sandboxed) for the message body; default depends on the type. The context has `change`: opened, escalated or recovered.")
    subject_template: str | None = Field(None, description="smtp: jinja2 template for the subject line.")


class RulesConfig(Model):
    paths: list[str] = Field(default_factory=list, description="Sigma rule files or folders (searched recursively for .yml). Loaded in addition to the bundled rules.")
    bundled: bool = Field(True, description="Also load the rules shipped with Logwarden (an SSH brute-force correlation). With no paths and bundled: true, only the bundled rules run.")
    mapping: str = Field("ecs", description="Field mapping applied to rules: ecs (Sigma names to ECS), none, or a path to a pipeline YAML file.")
    min_level: Level = Field("informational", description="Alerts below this level are not raised.")
    placeholders: dict[str, list[str]] = Field(default_factory=dict, description="Values for %placeholders% used with the expand modifier, e.g. {Administrators: [root, admin]}.")
    dedup_window: str = Field("1h", description="A matching event whose event.id was already counted within this window (wall-clock time) is not counted again, so a replay does not inflate an alert.")
    suppression: SuppressionDefaults = Field(default_factory=SuppressionDefaults, description="Alert grouping for every rule: one open alert per rule and key, updated in place while matches keep coming.")
    suppress: list[SuppressionConfig] = Field(default_factory=list, description="Alert grouping (key fields and window) for the rules a pattern names; the first matching entry applies.")
    reload_interval_ms: int = Field(2000, ge=100, description="How often rule files are checked for changes (hot reload).")
    base_url: str | None = Field(None, description="Web UI address used in alert links back to the events; when empty, http://<http.listen> (a wildcard bind as 127.0.0.1). Set it to the address people reach the UI at.")
    notifiers: list[NotifierConfig] = Field(default_factory=list, description="Where alerts are sent besides the alerts topic.")

    @field_validator("mapping")
    @classmethod
    def _known_mapping(cls, v: str) -> str:
        bundled = sorted(p.stem for p in Path(__file__).with_name("mappings").glob("*.yml"))
        if v not in bundled and not Path(v).expanduser().is_file():
            raise ValueError(f"no mapping pipeline {v!r}: use one of {', '.join(bundled)} or the path of a pipeline YAML file")
        return v
