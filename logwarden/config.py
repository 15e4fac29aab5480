"""Loading and validating logwarden.yml.

One YAML file configures every part. It is read once, `${ENV_VAR}` references are
substituted (`${VAR:-default}` supplies a default), and the result is validated by the
pydantic models that each stage owns. Errors name the file, the line, the dotted key and
what was expected, so `logwarden config check` and start-up say the same precise thing:

    logwarden.yml:12: sources[0].paths: expected a list of globs, got an integer

Line numbers come from the YAML node tree (`yaml.compose`), walked along the path that
pydantic reports for each error.
"""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator

from logwarden.agents.config import AgentConfig, FileSource
from logwarden.broker.config import BrokerConfig
from logwarden.ingest.config import IngestConfig
from logwarden.model import Endpoints, Listen, Model, parse_hostport
from logwarden.parsers.config import ParsersConfig
from logwarden.rules.config import RulesConfig
from logwarden.sinks.config import IndexConfig, MetricsConfig
from logwarden.stages import MOVED_TOPIC_KEYS, TopicsConfig


class KafkaConfig(Model):
    bootstrap_servers: Endpoints | None = Field(None, description="Kafka bootstrap servers (HOST:PORT[,HOST:PORT...]). Empty: the built-in broker at broker.listen.")
    security_protocol: str = Field("PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.")
    sasl_mechanism: str | None = Field(None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.")
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: str | None = Field(None, description="SASL password; use ${ENV_VAR} rather than a literal.")
    ssl_ca_location: str | None = Field(None, description="CA bundle that signed the broker's certificate.")


def _duration(v: str) -> str:
    from logwarden.durations import parse_duration

    parse_duration(v)
    return v


class HttpAuthConfig(Model):
    open_paths: list[str] = Field(
        ["/health", "/metrics"], description="Paths answered without a session or token (exact paths; never /api/*). "
                                             "The page and its assets under /static are always open: they hold no data.")
    session_idle: Annotated[str, AfterValidator(_duration)] = Field("8h", description="A browser session unused this long is logged out.")
    session_max: Annotated[str, AfterValidator(_duration)] = Field("7d", description="A browser session ends this long after its login, used or not.")
    login_max_failures: int = Field(5, ge=1, le=1000, description="Failed logins per client address and per user name within login_window before further attempts are refused (429).")
    login_window: Annotated[str, AfterValidator(_duration)] = Field("5m", description="The window login_max_failures counts in.")

    @field_validator("open_paths")
    @classmethod
    def _open_paths(cls, paths: list[str]) -> list[str]:
        for v in paths:
            if not v.startswith("/"):
                raise ValueError(f"a path starting with /, got {v!r}")
            if v == "/api" or v.startswith("/api/"):
                raise ValueError(f"every /api/* route needs a session or a token; {v!r} cannot be opened")
        return paths


class HttpTlsConfig(Model):
    cert_file: str | None = Field(None, description="PEM certificate (chain) for HTTPS; with key_file the UI and API are served over TLS and the session cookie is Secure.")
    key_file: str | None = Field(None, description="PEM private key of cert_file.")


class HttpConfig(Model):
    listen: Listen = Field("127.0.0.1:8080", description="HOST:PORT of the web UI and HTTP API; loopback by default.")
    auth: HttpAuthConfig = Field(default_factory=HttpAuthConfig, description="Logins, sessions and which paths stay open. Users and API tokens: `logwarden user`, `logwarden token`.")
    tls: HttpTlsConfig = Field(default_factory=HttpTlsConfig, description="HTTPS with a configured certificate.")

    @model_validator(mode="after")
    def _tls_pair(self) -> "HttpConfig":
        if bool(self.tls.cert_file) != bool(self.tls.key_file):
            raise ValueError("http.tls: cert_file and key_file go together")
        return self


class DemoConfig(Model):
    enabled: bool = Field(False, description="Generate realistic nginx and sshd lines (with an SSH brute force) and load a bundled rule that fires on it.")
    rate_per_s: float = Field(20.0, gt=0, le=100000, description="Lines the demo writes per second.")


class Config(Model):
    data_dir: str = Field("./logwarden-data", description="Where the broker log, the index, offsets and the demo log live.")
    log_level: str = Field("info", description="debug, info, warning or error.")
    log_format: Literal["auto", "json", "text"] = Field(
        "auto", description="auto: readable lines on a terminal, JSON objects otherwise; or always json, always text.")
    kafka: KafkaConfig = Field(default_factory=KafkaConfig, description="How stages reach the broker (built-in or Kafka).")
    topics: TopicsConfig = Field(default_factory=TopicsConfig, description="Topic names, one per topic, read by every stage that writes or reads it.")
    broker: BrokerConfig = Field(default_factory=BrokerConfig, description="The built-in broker.")
    http: HttpConfig = Field(default_factory=HttpConfig, description="The web UI and HTTP API.")
    agent: AgentConfig = Field(default_factory=AgentConfig, description="The file-tailing agent's own settings (registry, spool, producer, monitoring).")
    sources: list[FileSource] = Field(default_factory=list, description="Files the agent tails.")
    ingest: IngestConfig = Field(default_factory=IngestConfig, description="Network receivers.")
    parsers: ParsersConfig = Field(default_factory=ParsersConfig, description="Parser stage.")
    index: IndexConfig = Field(default_factory=IndexConfig, description="Search index sink.")
    rules: RulesConfig = Field(default_factory=RulesConfig, description="Sigma rules stage.")
    metrics: MetricsConfig = Field(default_factory=MetricsConfig, description="Log-to-metric feeds: counters and histograms of events on /metrics and topics.metrics.")
    demo: DemoConfig = Field(default_factory=DemoConfig, description="Demo log generator.")

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def bootstrap_servers(self) -> str:
        if self.kafka.bootstrap_servers:
            return self.kafka.bootstrap_servers
        host, port = parse_hostport(self.broker.listen)
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"{host}:{port}"


class ConfigError(Exception):
    """A configuration problem, already phrased for the operator (file:line: key: what)."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(text: str, source: str) -> str:
    problems: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        line = text.count("\n", 0, m.start()) + 1
        problems.append(f"{source}:{line}: ${{{name}}}: environment variable is not set (export it, or write ${{{name}:-default}})")
        return ""

    out = _ENV.sub(sub, text)
    if problems:
        raise ConfigError(problems)
    return out


@dataclass
class _Located:
    node: yaml.Node | None

    def child(self, key: Any) -> "_Located":
        n = self.node
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                    return _Located(v)
            return _Located(n)  # missing key: point at the mapping that lacks it
        if isinstance(n, yaml.SequenceNode) and isinstance(key, int) and key < len(n.value):
            return _Located(n.value[key])
        return _Located(n)

    def key_node(self, key: Any) -> yaml.Node | None:
        if isinstance(self.node, yaml.MappingNode):
            for k, _ in self.node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                    return k
        return None


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _describe(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping", type(None): "nothing (null)"}
    return names.get(type(value), type(value).__name__)


def _model_at(loc: tuple[Any, ...]) -> type[Model] | None:
    """The pydantic model class that owns the mapping at `loc`, for did-you-mean hints."""
    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", ()) or ()
        candidates = [ann, *args]
        nxt = None
        for c in candidates:
            if isinstance(c, type) and issubclass(c, Model):
                nxt = c
                break
            for a in getattr(c, "__args__", ()) or ():
                if isinstance(a, type) and issubclass(a, Model):
                    nxt = a
        if nxt is None:
            return None
        model = nxt
    return model


def _phrase(err: dict[str, Any], loc: tuple[Any, ...]) -> str:
    kind = err["type"]
    value = err.get("input")
    key = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        moved = MOVED_TOPIC_KEYS.get(tuple(str(p) for p in loc[-2:]))
        if moved and len(loc) == 2:
            return f"moved to {moved} (one name for every stage that writes or reads the topic)"
        owner = _model_at(loc[:-1])
        known = list(owner.model_fields) if owner else []
        hint = difflib.get_close_matches(key, known, n=1)
        tail = f"; did you mean '{hint[0]}'?" if hint else (f"; known keys: {', '.join(known)}" if known else "")
        return f"unknown key{tail}"
    if kind == "missing":
        return "required key is missing"
    if kind in ("list_type",):
        what = "a list of globs" if key == "paths" else "a list"
        return f"expected {what}, got {_describe(value)}"
    if kind in ("int_type", "int_parsing"):
        return f"expected an integer, got {_describe(value)} {value!r}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {value!r}"
    if kind in ("string_type",):
        return f"expected a string, got {_describe(value)}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping, got {_describe(value)}"
    return err["msg"][0].lower() + err["msg"][1:] if err.get("msg") else kind


def validate(data: Any, source: str = "<config>", root: yaml.Node | None = None) -> Config:
    """Validate already-parsed YAML; raise ConfigError phrased with file:line."""
    if data is None:
        data = {}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            # pydantic inserts union member tags (e.g. 'FileSource') into loc; drop them.
            loc = tuple(p for p in loc if not (isinstance(p, str) and p[:1].isupper()))
            located = _Located(root)
            for part in loc[:-1]:
                located = located.child(part)
            node = None
            if loc:
                if err["type"] == "extra_forbidden":
                    node = located.key_node(loc[-1])
                else:
                    node = located.child(loc[-1]).node
            line = f":{node.start_mark.line + 1}" if node is not None else ""
            problems.append(f"{source}{line}: {_dotted(loc)}: {_phrase(err, loc)}")
        raise ConfigError(problems) from None


def load(path: str | os.PathLike[str] | None) -> Config:
    """Read, interpolate and validate a config file; no path gives the embedded defaults."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read: {exc.strerror}"]) from None
    text = _interpolate(text, str(p))
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise ConfigError([f"{p}{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    except RecursionError:
        raise ConfigError([f"{p}: not valid YAML for a configuration: it nests too deeply"]) from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError([f"{p}:1: (top level): expected a mapping of sections, got {_describe(data)}"])
    return validate(data, str(p), root)


def dump(cfg: Config) -> str:
    """The effective configuration as YAML, as handed to supervised child processes."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
