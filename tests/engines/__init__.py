"""Real engines for the test suite: Apache Kafka 4.4 (KRaft, one node) and OpenSearch 2.19.

The scaled-out form promises that every stage runs against Kafka and OpenSearch with only
configuration changed; these start the real programs so the tests can hold it to that.

    jvm.fetch("kafka")   the jars, from Maven Central with `mvn dependency:copy-dependencies`
                         on the small POM beside this file, into a cache folder reused between
                         runs ($LOGWARDEN_ENGINES_CACHE, default ~/.cache/logwarden-engines)
    Kafka(tmp).start()   a broker+controller on free loopback ports, temp data dir, -Xmx512m
    OpenSearch(tmp)      one node in a JVM of its own via the test framework's MockNode

`python -m engines fetch` (with tests/ on PYTHONPATH) warms the cache, as `.ci/run` does;
`python -m engines run kafka|opensearch` starts one until Ctrl-C, for benchmarks by hand.
A machine without java, javac or mvn gets `missing()`'s reason ("... not installed"), which
the fixtures in tests/conftest.py turn into a skip (a failure under CI=true).
"""
from engines.jvm import EngineError, missing
from engines.kafka import Kafka
from engines.opensearch import OpenSearch

__all__ = ["EngineError", "Kafka", "OpenSearch", "missing"]
