"""The broker's authorizer decides as Kafka's StandardAuthorizer does (broker/security/acl.py)."""
from __future__ import annotations

from logwarden.broker.security.acl import ANONYMOUS, Authorizer, Entry, principal_of


def test_no_entries_means_authorization_is_off():
    a = Authorizer()
    assert not a.enabled and a.allowed("User:anyone", "Delete", "topic", "logs.raw")


def test_literal_prefixed_and_wildcard_names_and_principals():
    a = Authorizer([Entry("User:agent", ("Write",), "topic", "logs.raw"),
                    Entry("User:parsers", ("Read",), "topic", "logs.*"),
                    Entry("User:*", ("Describe",), "group", "*")])
    assert a.allowed("User:agent", "Write", "topic", "logs.raw")
    assert not a.allowed("User:agent", "Write", "topic", "logs.rawer")
    assert not a.allowed("User:agent", "Read", "topic", "logs.raw")
    assert a.allowed("User:parsers", "Read", "topic", "logs.ecs") and not a.allowed("User:parsers", "Read", "topic", "alerts")
    assert a.allowed("User:whoever", "Describe", "group", "g") and not a.allowed("User:whoever", "Read", "group", "g")
    assert not a.allowed(ANONYMOUS, "Write", "topic", "logs.raw")


def test_implied_operations_all_deny_and_super_users():
    a = Authorizer([Entry("User:a", ("Write",), "topic", "t"), Entry("User:a", ("AlterConfigs",), "topic", "t"),
                    Entry("User:b", ("All",), "topic", "*"), Entry("User:b", ("Write",), "topic", "secret", allow=False)],
                   super_users=["User:root"])
    assert a.allowed("User:a", "Describe", "topic", "t")          # Write implies Describe
    assert a.allowed("User:a", "DescribeConfigs", "topic", "t")   # AlterConfigs implies DescribeConfigs
    assert not a.allowed("User:a", "Delete", "topic", "t")
    assert a.allowed("User:b", "Delete", "topic", "x") and a.allowed("User:b", "Read", "topic", "secret")
    assert not a.allowed("User:b", "Write", "topic", "secret")    # a deny wins over All
    assert a.allowed("User:root", "Delete", "cluster")
    assert a.may_write_some_topic("User:a") and not a.may_write_some_topic("User:c")


def test_a_connection_without_sasl_is_anonymous():
    assert principal_of(None) == ANONYMOUS and principal_of("alice") == "User:alice"
