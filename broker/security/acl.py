"""Authorization as Kafka's StandardAuthorizer decides it: principals, operations, resources.

Sans-IO: `Authorizer.allowed(principal, operation, resource_type, name)` is a pure function
of the configured entries; the request handlers ask it and answer TOPIC_/GROUP_/
CLUSTER_AUTHORIZATION_FAILED where Kafka does.

The rules are Kafka's, so an operator who knows `kafka-acls.sh` knows these:

* A principal is `User:<name>`: the SASL user of the connection, or `User:ANONYMOUS` on a
  listener without SASL. `User:*` in an entry matches every principal.
* Resources are a `topic`, a consumer `group` or the `cluster`. A name is literal, `*` for
  every resource of the type, or ends in `*` for a prefix (Kafka's PREFIXED pattern type).
* Operations: Read, Write, Create, Delete, Alter, Describe, DescribeConfigs, AlterConfigs,
  IdempotentWrite, All. Read, Write, Delete and Alter imply Describe; AlterConfigs implies
  DescribeConfigs (as Kafka's implied-operation table).
* A deny entry wins over any allow; with entries configured, what no entry allows is denied
  (Kafka's allow.everyone.if.no.acl.found=false); `super_users` are never refused.
* With no entries at all, authorization is off and every principal may do everything - the
  embedded single-machine default, where only loopback clients can connect.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

ANONYMOUS = "User:ANONYMOUS"
OPERATIONS = ("Read", "Write", "Create", "Delete", "Alter", "Describe", "DescribeConfigs", "AlterConfigs",
              "IdempotentWrite", "All")
ResourceType = Literal["topic", "group", "cluster"]
CLUSTER = "kafka-cluster"  # the cluster resource's name, as Kafka names it

# operation asked -> operations whose allow entry grants it (besides itself and All)
_IMPLIED_BY = {"Describe": ("Read", "Write", "Delete", "Alter"), "DescribeConfigs": ("AlterConfigs",)}


def principal_of(user: str | None) -> str:
    """The principal of a connection: its SASL user, else ANONYMOUS (no SASL on the listener)."""
    return f"User:{user}" if user else ANONYMOUS


@dataclass(frozen=True)
class Entry:
    principal: str
    operations: tuple[str, ...]
    resource_type: ResourceType
    name: str
    allow: bool = True

    def matches_resource(self, resource_type: str, name: str) -> bool:
        if self.resource_type != resource_type:
            return False
        if self.name == "*" or self.name == name:
            return True
        return self.name.endswith("*") and name.startswith(self.name[:-1])

    def grants(self, operation: str) -> bool:
        """Whether this entry's operations cover `operation` (for allow: implied ones too)."""
        if "All" in self.operations or operation in self.operations:
            return True
        return self.allow and any(o in self.operations for o in _IMPLIED_BY.get(operation, ()))


class Authorizer:
    def __init__(self, entries: Iterable[Entry] = (), super_users: Iterable[str] = ()):
        self.entries = list(entries)
        self.super_users = set(super_users)

    @property
    def enabled(self) -> bool:
        return bool(self.entries)

    def allowed(self, principal: str, operation: str, resource_type: ResourceType, name: str = CLUSTER) -> bool:
        if not self.entries or principal in self.super_users:
            return True
        verdict = False
        for e in self.entries:
            if e.principal not in (principal, "User:*") or not e.matches_resource(resource_type, name):
                continue
            if not e.grants(operation):
                continue
            if not e.allow:
                return False  # deny wins
            verdict = True
        return verdict

    def may_write_some_topic(self, principal: str) -> bool:
        """Kafka (KIP-679) lets an idempotent producer have a producer id when it may write to
        any topic, without IdempotentWrite on the cluster."""
        if not self.entries or principal in self.super_users:
            return True
        return any(e.allow and e.resource_type == "topic" and e.principal in (principal, "User:*") and e.grants("Write")
                   for e in self.entries)
