"""The status snapshot's pure parts: counters summed per stage, rates between snapshots."""
from logwarden.status import Rates, stage_totals

EXPOSITION = """\
# HELP logwarden_component_received_events_total Events a component consumed.
# TYPE logwarden_component_received_events_total counter
logwarden_component_received_events_total{component="parsers"} 790.0
logwarden_component_received_events_total{component="index"} 791.0
# HELP logwarden_component_sent_events_total Events a component produced or wrote durably.
# TYPE logwarden_component_sent_events_total counter
logwarden_component_sent_events_total{component="parsers"} 780.0
logwarden_component_sent_events_total{component="index"} 0.0
# HELP logwarden_component_errors_total Events a component failed on.
# TYPE logwarden_component_errors_total counter
logwarden_component_errors_total{component="parsers",kind="dlq"} 6.0
logwarden_component_errors_total{component="parsers",kind="retry"} 4.0
# HELP logwarden_index_documents_total Documents written to the search index.
# TYPE logwarden_index_documents_total counter
logwarden_index_documents_total{index="events"} 700.0
logwarden_index_documents_total{index="alerts"} 2.0
"""


def test_stage_totals_sum_labels_and_count_index_documents_as_its_output():
    t = stage_totals(EXPOSITION)
    assert t["parsers"] == {"in": 790.0, "out": 780.0, "errors": 10.0}
    assert t["index"] == {"in": 791.0, "out": 702.0, "errors": 0.0}


def test_rates_need_an_earlier_snapshot_and_survive_a_counter_reset():
    now = [100.0]
    r = Rates(clock=lambda: now[0])
    assert r.update({"parsers": {"in": 10.0}}) == {"parsers": {"in": None}}
    now[0] = 102.0
    assert r.update({"parsers": {"in": 30.0}}) == {"parsers": {"in": 10.0}}
    now[0] = 102.5  # too soon to replace the snapshot of t=102: still measured against it
    assert r.update({"parsers": {"in": 35.0}}) == {"parsers": {"in": 10.0}}
    now[0] = 104.0
    assert r.update({"parsers": {"in": 2.0}}) == {"parsers": {"in": 0.0}}  # the process restarted
