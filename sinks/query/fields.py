"""ECS field types the query compilers and the Elasticsearch index template agree on.

Both backends need the same small amount of schema knowledge: which fields are analysed
full text (tokenised, matched by words and phrases), which hold IP addresses (so that
`source.ip:10.0.0.0/8` is a CIDR match), which are dates or numbers (ranges). Every other
field is an ECS `keyword`: matched exactly and case-sensitively, as Elasticsearch does.
The Elasticsearch template in `logwarden.sinks.es_template` is generated from these
tables, so the embedded index and a real cluster give the same answers.
"""
from __future__ import annotations

# ECS `match_only_text` / `text` fields we produce; tokenised by the default analyser.
TEXT_FIELDS: frozenset[str] = frozenset({"message", "error.message", "rule.description"})

# Stored with the document but not searchable (ECS maps event.original `index: false`: the
# parsed `message` is what is searched). Querying one is an error on both backends.
NOT_INDEXED: frozenset[str] = frozenset({"event.original"})

# ECS `ip` fields: CIDR and range queries on them compare addresses, not strings.
IP_FIELDS: frozenset[str] = frozenset({
    "source.ip", "destination.ip", "client.ip", "server.ip", "host.ip", "related.ip",
    "source.nat.ip", "destination.nat.ip", "observer.ip",
})

# ECS `date` fields. @timestamp has a dedicated fast field in the embedded index.
DATE_FIELDS: frozenset[str] = frozenset({
    "@timestamp", "event.ingested", "event.created", "event.start", "event.end",
    "alert.first_seen", "alert.last_seen",
})

# ECS numeric fields (long unless listed in FLOAT_FIELDS) used for ranges and the ES template.
LONG_FIELDS: frozenset[str] = frozenset({
    "source.port", "destination.port", "client.port", "server.port", "process.pid",
    "process.parent.pid", "http.response.status_code", "http.response.bytes",
    "http.response.body.bytes", "http.request.bytes", "log.offset", "event.severity",
    "event.duration", "event.sequence", "alert.count", "user.id_number", "source.bytes",
    "destination.bytes", "network.bytes", "auditd.sequence",
})
FLOAT_FIELDS: frozenset[str] = frozenset({"event.risk_score", "http.response.time_s"})

# Bare words (no `field:`) search the full text of `message` and, exactly, these keyword
# fields: the default field list of both backends (Elasticsearch's `multi_match` gets the
# same list), like `index.query.default_field` on a cluster.
DEFAULT_TEXT_FIELD = "message"
DEFAULT_KEYWORD_FIELDS: tuple[str, ...] = (
    "host.name", "host.hostname", "agent.name", "observer.name", "service.name",
    "event.dataset", "event.module", "event.action", "event.outcome", "event.category", "event.type",
    "process.name", "process.executable", "user.name", "source.user.name", "destination.user.name",
    "source.ip", "destination.ip", "client.ip", "source.domain", "destination.domain",
    "url.path", "url.domain", "http.request.method", "user_agent.original",
    "file.path", "file.name", "log.level", "dns.question.name", "tags",
    "rule.name", "alert.level",
)
DEFAULT_FIELDS: tuple[str, ...] = (DEFAULT_TEXT_FIELD, *DEFAULT_KEYWORD_FIELDS)

TIMESTAMP = "@timestamp"


def kind(field: str) -> str:
    """'text', 'ip', 'date', 'long', 'float' or 'keyword' for an ECS dotted path."""
    if field in TEXT_FIELDS:
        return "text"
    if field in IP_FIELDS:
        return "ip"
    if field in DATE_FIELDS:
        return "date"
    if field in LONG_FIELDS:
        return "long"
    if field in FLOAT_FIELDS:
        return "float"
    return "keyword"
