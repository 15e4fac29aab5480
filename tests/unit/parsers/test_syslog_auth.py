"""Syslog headers (RFC 3164, RFC 5424, ISO) and the auth programs behind them."""
from logwarden.parsers.core import ParseFailure
from logwarden.parsers.formats.syslog import structured_data


def test_rfc3164_sshd_failed_invalid_user(parse):
    doc = parse("Nov 26 15:00:01 web1 sshd[4242]: Failed password for invalid user admin from 203.0.113.5 port 52311 ssh2")
    assert doc["@timestamp"] == "2026-11-26T15:00:01.000Z"
    assert doc["host"] == {"name": "collector", "hostname": "web1"}
    assert doc["process"] == {"name": "sshd", "pid": 4242}
    assert doc["message"] == "Failed password for invalid user admin from 203.0.113.5 port 52311 ssh2"
    ev = doc["event"]
    assert ev["category"] == ["authentication"]
    assert ev["outcome"] == "failure"
    assert ev["action"] == "failed"
    assert ev["dataset"] == "system.auth"
    assert doc["user"] == {"name": "admin"}
    assert doc["source"] == {"address": "203.0.113.5", "ip": "203.0.113.5", "port": 52311}
    assert doc["system"]["auth"]["ssh"] == {"event": "Failed", "method": "password", "invalid_user": True}
    assert doc["related"] == {"user": ["admin"], "ip": ["203.0.113.5"]}


def test_sshd_accepted_publickey_with_signature(parse):
    doc = parse("Nov 26 15:00:02 web1 sshd[4242]: Accepted publickey for alice from 2001:db8::7 port 50022 ssh2: ED25519 SHA256:Xy+z/1")
    assert doc["event"]["outcome"] == "success"
    assert doc["event"]["category"] == ["authentication", "session"]
    assert doc["event"]["action"] == "accepted"
    assert doc["source"]["ip"] == "2001:db8::7"
    assert doc["user"]["name"] == "alice"
    assert doc["system"]["auth"]["ssh"]["signature"] == "ED25519 SHA256:Xy+z/1"


def test_iso_timestamp_form_in_every_mode(parse):
    line = "2026-11-26T15:00:03.123456+01:00 web1 sshd[77]: Failed password for root from 203.0.113.5 port 52312 ssh2"
    for fmt in (None, "auto", "syslog", "sshd", "auth"):
        doc = parse(line, fmt)
        assert doc["@timestamp"] == "2026-11-26T14:00:03.123Z", fmt
        assert doc["process"]["name"] == "sshd"
        assert doc["event"]["outcome"] == "failure"
        assert doc["source"]["ip"] == "203.0.113.5"
        assert doc["user"]["name"] == "root"


def test_sshd_other_messages(parse):
    doc = parse("Nov 26 15:00:00 h sshd[1]: Invalid user oracle from 192.0.2.9 port 40000")
    assert (doc["event"]["action"], doc["event"]["outcome"], doc["user"]["name"], doc["source"]["port"]) == ("invalid_user", "failure", "oracle", 40000)
    doc = parse("Nov 26 15:00:00 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.9  user=root")
    assert doc["event"]["outcome"] == "failure" and doc["event"]["category"] == ["authentication"]
    assert doc["user"]["name"] == "root" and doc["source"]["ip"] == "192.0.2.9"
    assert doc["system"]["auth"]["pam"] == {"module": "pam_unix", "service": "sshd", "type": "auth"}
    doc = parse("Nov 26 15:00:00 h sshd[1]: message repeated 3 times: [ Failed password for root from 192.0.2.9 port 40001 ssh2]")
    assert doc["event"]["count"] == 3 and doc["event"]["outcome"] == "failure" and doc["user"]["name"] == "root"
    doc = parse("Nov 26 15:00:00 h sshd[1]: Connection closed by authenticating user root 192.0.2.9 port 40002 [preauth]")
    assert doc["event"]["action"] == "connection_closed" and doc["user"]["name"] == "root"
    assert "outcome" not in doc["event"]
    doc = parse("Nov 26 15:00:00 h sshd[1]: Did not receive identification string from 192.0.2.9 port 40003")
    assert doc["system"]["auth"]["ssh"]["dropped_ip"] == "192.0.2.9"
    doc = parse("Nov 26 15:00:00 h sshd[1]: Failed password for root from bad.example.org port 40004 ssh2")
    assert doc["source"] == {"address": "bad.example.org", "domain": "bad.example.org", "port": 40004}
    doc = parse("Nov 26 15:00:00 h sshd[1]: Server listening on 0.0.0.0 port 22.")
    assert doc["process"]["name"] == "sshd" and "outcome" not in doc["event"]


def test_sudo_su_pam_useradd(parse):
    doc = parse("<38>Nov 26 15:00:04 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u")
    assert doc["log"]["syslog"]["facility"] == {"code": 4, "name": "auth"}
    assert doc["log"]["syslog"]["severity"] == {"code": 6, "name": "informational"}
    assert doc["user"] == {"name": "alice", "effective": {"name": "root"}}
    assert doc["process"]["command_line"] == "/usr/bin/id -u"
    assert doc["event"]["outcome"] == "success"
    doc = parse("Nov 26 15:00:04 web1 sudo:     bob : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh")
    assert doc["event"]["outcome"] == "failure" and doc["system"]["auth"]["sudo"]["error"] == "3 incorrect password attempts"
    doc = parse("Nov 26 15:00:05 web1 su[99]: FAILED SU (to root) bob on pts/1")
    assert doc["event"]["outcome"] == "failure" and doc["user"] == {"name": "bob", "target": {"name": "root"}}
    doc = parse("Nov 26 15:00:05 web1 su[99]: (to root) bob on pts/1")
    assert doc["event"]["outcome"] == "success"
    doc = parse("Nov 26 15:00:06 web1 sshd[5]: pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)")
    assert doc["event"]["category"] == ["session"] and doc["event"]["type"] == ["start"]
    assert doc["user"] == {"name": "alice", "id": "1000"}
    doc = parse("Nov 26 15:00:07 web1 useradd[7]: new user: name=mallory, UID=1001, GID=1001, home=/home/mallory, shell=/bin/bash, from=/dev/pts/0")
    assert doc["event"]["category"] == ["iam"] and doc["event"]["type"] == ["user", "creation"]
    assert doc["user"] == {"name": "mallory", "id": "1001"}


def test_rfc3164_variants(parse):
    doc = parse("Nov  3 01:02:03 kernel: [12.3] eth0 link up", "syslog")
    assert doc["@timestamp"] == "2026-11-03T01:02:03.000Z"
    assert doc["process"] == {"name": "kernel"} and "hostname" not in doc["host"]
    assert doc["event"]["dataset"] == "system.syslog"
    doc = parse("<13>Nov 26 10:00:00 myhost just some text", "syslog")
    assert doc["host"]["hostname"] == "myhost" and doc["message"] == "just some text" and "process" not in doc
    # December lines read in January belong to last year
    from logwarden.parsers.config import ParsersConfig
    from logwarden.parsers.engine import Engine
    from datetime import datetime, timezone
    from parsers_testlib import envelope
    jan = Engine(ParsersConfig(timezone="Europe/Berlin"), now=datetime(2027, 1, 2, tzinfo=timezone.utc))
    doc = jan.parse(envelope("Dec 31 23:30:00 h cron[1]: x", fields={"log_format": "syslog"}))
    assert doc["@timestamp"] == "2026-12-31T22:30:00.000Z"  # read in Berlin (UTC+1)


def test_rfc5424(parse):
    doc = parse('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 1234 ID47 [exampleSDID@32473 iut="3" eventSource="App\\]lication"][meta x="1"] \ufeffAn application event', "syslog")
    sl = doc["log"]["syslog"]
    assert sl["version"] == "1" and sl["msgid"] == "ID47" and sl["appname"] == "evntslog" and sl["procid"] == "1234"
    assert sl["structured_data"] == {"exampleSDID@32473": {"iut": "3", "eventSource": "App]lication"}, "meta": {"x": "1"}}
    assert sl["facility"]["name"] == "local4" and sl["severity"]["name"] == "notice"
    assert doc["message"] == "An application event"
    assert doc["process"] == {"name": "evntslog", "pid": 1234}
    assert doc["@timestamp"] == "2003-10-11T22:14:15.003Z"
    doc = parse("<34>1 - - - - - -", "syslog")
    assert doc["@timestamp"] == "2026-11-26T16:00:00.000Z" and doc["message"] == ""  # envelope time kept
    doc = parse("<86>1 2026-11-26T15:00:01+00:00 web1 sshd 812 - - Failed password for root from 203.0.113.5 port 1 ssh2", "auto")
    assert doc["event"]["outcome"] == "failure" and doc["process"]["name"] == "sshd"


def test_malformed_syslog_goes_to_failure(parse):
    for line in ("<999>Nov 26 15:00:01 h x: y", "Foo 26 15:00:01 h x: y", "not syslog at all", "<13>1 notatime h a - - - m"):
        r = parse(line, "syslog")
        assert isinstance(r, ParseFailure), line
        assert r.parser == "syslog" and r.reason
    r = parse("Server listening on 0.0.0.0 port 22.", "sshd")
    assert isinstance(r, ParseFailure) and r.reason == "not a sshd line"


def test_headerless_sshd_line(parse):
    doc = parse("Failed password for root from 203.0.113.5 port 52311 ssh2", "sshd")
    assert doc["process"]["name"] == "sshd" and doc["event"]["outcome"] == "failure"
    assert doc["@timestamp"] == "2026-11-26T16:00:00.000Z"


def test_syslog_hints_from_network_ingest(parse):
    doc = parse("Invalid user x from 192.0.2.1 port 2", "syslog",
                log={"syslog": {"appname": "sshd", "hostname": "edge"}, "offset": 0})
    assert doc["process"]["name"] == "sshd" and doc["host"]["hostname"] == "edge"
    assert doc["event"]["action"] == "invalid_user"


def test_structured_data_helper():
    assert structured_data('[a b="1" c="x\\"y"]') == {"a": {"b": "1", "c": 'x"y'}}


def test_explain_attributes_header_and_message_separately(engine):
    from parsers_testlib import envelope
    doc, trace = engine.explain(envelope("Nov 26 15:00:01 web1 sshd[4242]: Invalid user x from 192.0.2.1 port 2", fields={"log_format": "sshd"}))
    who = dict(trace)
    assert who["host.hostname"] == who["process.pid"] == "sshd:syslog.rfc3164"
    assert who["source.ip"] == who["event.outcome"] == "sshd:syslog.rfc3164 > sshd.invalid_user"
    assert who["event.id"] == who["log.offset"] == "envelope"
    assert set(who) == set(__import__("logwarden.events", fromlist=["flatten"]).flatten(doc))


def test_network_ingest_envelope_keeps_transport_and_relay(engine):
    from parsers_testlib import envelope
    raw = envelope("<86>1 2026-11-26T10:00:00Z web1 sshd 812 - - Failed password for root from 203.0.113.5 port 4 ssh2",
                   log={"source": {"address": "10.0.0.7:51234"}, "syslog": {"transport": "tcp"}},
                   input={"type": "syslog"}, fields={"log_format": "syslog"}, event={"id": "ingest-1"})
    doc = engine.parse(raw)
    assert doc["log"]["syslog"]["transport"] == "tcp" and doc["log"]["syslog"]["procid"] == "812"
    assert doc["log"]["source"] == {"address": "10.0.0.7:51234"} and doc["source"]["ip"] == "203.0.113.5"
    assert doc["event"]["id"] == "ingest-1" and raw["log"]["syslog"] == {"transport": "tcp"}
    r = engine.parse(envelope("garbage without header", log={"syslog": {"transport": "udp"}}, fields={"log_format": "sshd"}))
    assert r.__class__.__name__ == "ParseFailure"


def test_more_sshd_refusals(parse):
    cases = {
        "User root from 203.0.113.5 not allowed because not listed in AllowUsers": ("not_allowed", "failure", "root"),
        "ROOT LOGIN REFUSED FROM 203.0.113.5": ("root_login_refused", "failure", "root"),
        "Unable to negotiate with 203.0.113.5 port 40000: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1": ("negotiation_failed", "failure", None),
        "Timeout before authentication for 203.0.113.5 port 40001": ("authentication_timeout", "failure", None),
        "Connection from 203.0.113.5 port 40002 on 10.0.0.2 port 22 rdomain \"\"": ("connection_opened", None, None),
    }
    for msg, (action, outcome, user) in cases.items():
        doc = parse(f"Nov 26 15:00:00 h sshd[1]: {msg}")
        assert doc["event"]["action"] == action, msg
        assert doc["event"].get("outcome") == outcome and doc["source"]["ip"] == "203.0.113.5", msg
        assert (doc.get("user") or {}).get("name") == user, msg
    assert parse("Nov 26 15:00:00 h sshd[1]: Connection from 203.0.113.5 port 1 on 10.0.0.2 port 22")["destination"] == {"address": "10.0.0.2", "ip": "10.0.0.2", "port": 22}


def test_rfc3164_ipv6_hostname(parse):
    doc = parse("<38>Nov 26 10:00:00 2001:db8::5 sshd[9]: Invalid user x from 203.0.113.5 port 1")
    assert doc["host"]["hostname"] == "2001:db8::5" and doc["process"] == {"name": "sshd", "pid": 9}
    doc = parse("Nov 26 10:00:00 kernel: [ 1.0] boot", "syslog")
    assert doc["process"]["name"] == "kernel" and doc["message"] == "[ 1.0] boot"
