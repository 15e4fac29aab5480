"""Loading real SigmaHQ rules and reporting broken ones with file, line and reason."""
from pathlib import Path

from logwarden.rules.ruleset import BUNDLED_DIR
from logwarden.rules.compiler import load_ruleset
from logwarden.rules.engine import Engine
from logwarden.rules.loader import load_paths

DATA = Path(__file__).resolve().parents[2] / "data" / "sigma"

# tests/data/sigma/rules holds 308 unmodified SigmaHQ rules (linux, web, network).
SIGMAHQ_RULES = 308


def test_every_sigmahq_rule_loads():
    rs = load_ruleset([str(DATA / "rules")], mapping="ecs")
    assert [str(e) for e in rs.errors] == []
    assert len(rs.rules) == SIGMAHQ_RULES
    assert rs.documents == SIGMAHQ_RULES
    # DRL 1.1: every rule keeps its author, which alerts carry.
    assert all(r.doc.author for r in rs.rules)


def test_every_sigmahq_rule_loads_without_mapping():
    rs = load_ruleset([str(DATA / "rules")], mapping="none")
    assert not rs.errors and len(rs.rules) == SIGMAHQ_RULES


def test_a_broken_rule_is_reported_and_the_others_still_run(tmp_path):
    good = (DATA / "rules" / "linux" / "builtin" / "lnx_shellshock.yml").read_text()
    (tmp_path / "good.yml").write_text(good)
    (tmp_path / "bad_yaml.yml").write_text("title: x\ndetection: [unclosed\n")
    (tmp_path / "bad_mod.yml").write_text(
        "title: bad modifier\nlogsource: {product: linux}\ndetection:\n  sel:\n"
        "    a: 1\n    CommandLine|containz: x\n  condition: sel\n")
    (tmp_path / "no_title.yml").write_text("logsource: {}\ndetection: {sel: {a: 1}, condition: sel}\n")
    (tmp_path / "bad_level.yml").write_text("title: t\nlevel: severe\ndetection: {sel: {a: 1}, condition: sel}\n")
    rs = load_ruleset([str(tmp_path)], mapping="ecs")
    assert len(rs.rules) == 1 and rs.rules[0].doc.title.startswith("Shellshock")
    errors = {Path(e.file).name: e for e in rs.errors}
    assert set(errors) == {"bad_yaml.yml", "bad_mod.yml", "no_title.yml", "bad_level.yml"}
    assert errors["bad_mod.yml"].line == 6 and "unknown modifier 'containz'" in errors["bad_mod.yml"].reason
    assert errors["bad_yaml.yml"].line == 3 and "not valid YAML" in errors["bad_yaml.yml"].reason
    assert "title is missing" in errors["no_title.yml"].reason
    assert errors["bad_level.yml"].line == 2
    # the good rule runs
    assert Engine(rs).match({"message": "GET /cgi-bin/x () { :; }; /bin/bash"})[1]


def test_missing_path_is_an_error_not_a_crash(tmp_path):
    docs, errors = load_paths([str(tmp_path / "nope")])
    assert not docs and "no such file" in errors[0].reason


def test_bundled_rule_is_package_data():
    assert (BUNDLED_DIR / "ssh_bruteforce.yml").is_file()
    rs = load_ruleset([str(BUNDLED_DIR)])
    assert not rs.errors
    assert [c.doc.title for c in rs.correlations] == ["SSH brute force from one source address"]
    assert rs.rules[0].standalone is False   # the base rule only feeds the correlation


def test_real_rules_fire_on_ecs_events():
    rs = load_ruleset([str(DATA / "rules")], mapping="ecs")
    eng = Engine(rs)
    line = '203.0.113.9 - - [26/Nov/2026:10:00:00 +0000] "GET /index.php?id=1\' UNION SELECT password FROM users-- HTTP/1.1" 200 12'
    sqli = {"message": line, "event": {"category": ["web"]}, "url": {"original": "/index.php?id=1' UNION SELECT password FROM users--"},
            "http": {"request": {"method": "GET"}, "response": {"status_code": 200}}}
    titles = {r.doc.title for r in eng.match(sqli)[1]}
    assert "SQL Injection Strings In URI" in titles
    sqli["http"]["response"]["status_code"] = 404       # the rule's filter_main_status
    assert "SQL Injection Strings In URI" not in {r.doc.title for r in eng.match(sqli)[1]}
    proc = {"event": {"category": ["process"], "type": ["start"]},
            "process": {"executable": "/usr/bin/base64", "command_line": "base64 -d /tmp/x | bash"}}
    assert eng.match(proc)[1]
    # a process event never reaches web rules and vice versa (logsource conditions)
    assert not any(r.doc.logsource.get("category") == "webserver" for r in eng.match(proc)[1])


def test_duplicate_ids_are_refused(tmp_path):
    rule = "title: {t}\nid: 11111111-2222-4333-8444-555555555555\nlogsource: {{}}\ndetection: {{sel: {{a: 1}}, condition: sel}}\n"
    (tmp_path / "a.yml").write_text(rule.format(t="first"))
    (tmp_path / "b.yml").write_text(rule.format(t="second"))
    rs = load_ruleset([str(tmp_path)], mapping="none")
    assert [r.doc.title for r in rs.rules] == ["first"]
    (err,) = rs.errors
    assert err.file.endswith("b.yml") and err.line == 2 and "duplicate id" in err.reason and "a.yml:1" in err.reason


def test_substring_index_is_scoped_to_its_field():
    """The one-Set index joins an event's values; atoms must not leak across fields."""
    from logwarden.rules.compiler import ruleset_from_text
    from logwarden.rules.event import prepare

    rs = ruleset_from_text(
        "title: c\nid: c\nlogsource: {}\ndetection: {sel: {url|contains: evilthing}, condition: sel}\n---\n"
        "title: s\nid: s\nlogsource: {}\ndetection: {sel: {url|startswith: /admin}, condition: sel}\n---\n"
        "title: e\nid: e\nlogsource: {}\ndetection: {sel: {url|endswith: .php}, condition: sel}\n---\n"
        "title: u\nid: u\nlogsource: {}\ndetection: {sel: {ua|contains: sqlmap}, condition: sel}\n", mapping="none")
    eng = Engine(rs)

    def cands(doc):
        flat, low = prepare(doc, eng.plan)
        return {eng.rules[i].doc.id for i in eng.candidates(flat, low)}
    assert cands({"url": "/x/EVILTHING/y"}) == {"c"}
    assert cands({"agent": "evilthing", "url": "/x"}) == set()          # not a field any rule reads
    assert cands({"url": "/sqlmap", "ua": "evilthing"}) == set()         # atoms stay in their field
    assert cands({"url": "/x", "ua": "SQLMap/1.7"}) == {"u"}
    assert cands({"url": "/admin/x.php"}) == {"s", "e"}
    assert cands({"url": "/x/admin.phpx"}) == set()                       # neither at start nor at end
    assert cands({"url": ["/a", "/admin"]}) == {"s"}                      # list elements are segments
    assert cands({"url": "a.php\x00b"}) == set() and cands({"url": "/admin\x00.php"}) == {"s", "e"}
