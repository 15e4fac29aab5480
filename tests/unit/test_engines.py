"""tests/engines without the JVMs: the skip reason CI turns into a failure, the port range."""
from __future__ import annotations

from engines import jvm


def test_a_machine_without_a_jdk_is_told_what_is_not_installed(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    why = jvm.missing()
    assert why is not None and "not installed" in why and "java" in why and "mvn" in why


def test_engine_ports_are_free_distinct_and_below_the_ephemeral_range():
    ports = jvm.free_ports(20)
    assert len(set(ports)) == 20
    assert all(jvm.PORT_RANGE[0] <= p < 32768 for p in ports)


def test_the_cache_folder_is_overridable(monkeypatch, tmp_path):
    monkeypatch.setenv("LOGWARDEN_ENGINES_CACHE", str(tmp_path))
    assert jvm.cache_root() == tmp_path
