"""The short chaos run of the test suite (issue 18): every fault once, then an exact account.

Real processes (a `logwarden broker` and `logwarden up`), real files rotating by rename and
copytruncate while written, real signals. See harness.py for what is injected and checked;
`python -m tests.chaos` is the long run.
"""
import pytest

from chaos.harness import ChaosConfig, ChaosRun

# Not in the default run yet (`-m "not chaos"` in pyproject.toml): it failed intermittently on one
# copytruncate generation indexed twice; the agent fix of 2026-12-08 (docs/reliability.md) has
# had three exact runs since, and it goes into the default run once more runs confirm it.
# Run it with `pytest -m chaos tests/chaos`.
pytestmark = [pytest.mark.e2e, pytest.mark.chaos]


@pytest.mark.timeout(900)
def test_every_line_indexed_once_and_alerts_exact_through_every_fault(tmp_path):
    # ~300 lines/s is high for the whole appliance sharing 2 busy cores with other tests,
    # and still drains; 20 s of broker down and a 12 s stall beyond the 10 s session timeout
    # (the writer stops 2 s after the last fault recovered; `lines` is only a cap)
    cc = ChaosConfig(lines=300_000, rate=300, files=4, rotate_every=900, brute_sets=40, brute_every=600, seed=18,
                     broker_down_s=20, stop_s=12, until_faults_done=True)
    r = ChaosRun(tmp_path, cc).run()
    print(r.summary())
    assert not [f for f in r.faults if f["recovery_s"] is None], r.summary()
    assert len(r.faults) == len(cc.faults), r.summary()  # the writer outlasted the schedule
    assert r.written > 10 * cc.rate and len(r.alerts_per_ip) >= 10, r.summary()
    assert r.missing == [], r.summary()
    assert r.duplicated == {}, r.summary()
    assert r.indexed == r.written
    assert r.lag and all(v == 0 for v in r.lag.values()), r.summary()
    assert r.exact_alert_problems == {}, r.summary()
    assert len(r.exposed_ips) < len(r.alerts_per_ip), "every set was exposed: the alert check checked nothing"
