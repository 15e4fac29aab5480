"""Error logs, logfmt/kv, auditd (and joining), CEF, LEEF, CRI, Docker json-file, winlog."""
from logwarden.parsers.core import ParseFailure
from logwarden.parsers.formats.auditd import AuditJoiner

from parsers_testlib import envelope

NGINX_ERR = ('2016/10/25 14:49:34 [error] 54053#0: *1 open() "/x/favicon.ico" failed (2: No such file or directory), '
             'client: 127.0.0.1, server: localhost, request: "GET /favicon.ico HTTP/1.1", host: "localhost:8080"')


def test_nginx_error(parse):
    doc = parse(NGINX_ERR, "nginx_error")
    assert doc["@timestamp"] == "2016-10-25T14:49:34.000Z"
    assert doc["log"]["level"] == "error" and doc["process"] == {"pid": 54053, "thread": {"id": 0}}
    assert doc["nginx"]["error"]["connection_id"] == 1
    assert doc["message"].startswith('open() "/x/favicon.ico" failed')
    assert doc["source"]["ip"] == "127.0.0.1" and doc["http"]["request"]["method"] == "GET" and doc["url"]["original"] == "/favicon.ico"
    assert doc["event"]["dataset"] == "nginx.error"
    doc = parse("2019/10/30 23:26:34 [warn] 1#1: conflicting server name", "nginx_error")
    assert "nginx" not in doc and "source" not in doc and doc["log"]["level"] == "warn"
    multi = '2019/10/30 23:26:34 [error] 205860#205860: *180289 FastCGI sent in stderr: "PHP message: a\nPHP message: b"'
    assert parse(multi, "nginx_error")["message"].endswith('b"')
    assert isinstance(parse("2016-10-25 14:49:34 [error] x", "nginx_error"), ParseFailure)


def test_apache_error(parse):
    doc = parse("[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 1234:tid 140] [client 192.0.2.1:5678] AH00124: Request exceeded", "apache_error")
    assert doc["@timestamp"] == "2000-10-11T14:32:52.123Z"
    assert doc["apache"]["error"]["module"] == "core" and doc["log"]["level"] == "error"
    assert doc["process"] == {"pid": 1234, "thread": {"id": 140}}
    assert doc["source"] == {"address": "192.0.2.1", "ip": "192.0.2.1", "port": 5678}
    assert doc["error"]["code"] == "AH00124"
    doc = parse("[Wed Oct  1 14:32:52 2000] [error] [client 192.0.2.1] File does not exist: /var/www/x", "apache_error")
    assert doc["@timestamp"] == "2000-10-01T14:32:52.000Z" and doc["message"] == "File does not exist: /var/www/x"
    assert isinstance(parse("[Foo] [error] x", "apache_error"), ParseFailure)


def test_logfmt_and_kv(parse):
    doc = parse('ts=2026-11-26T10:00:00+01:00 level=WARN msg="disk \\"sda\\" low" user.name=bob free=12 verbose', "logfmt")
    assert doc["@timestamp"] == "2026-11-26T09:00:00.000Z"
    assert doc["message"] == 'disk "sda" low' and doc["log"]["level"] == "warn"
    assert doc["user"] == {"name": "bob"} and doc["free"] == "12" and doc["verbose"] is True
    for bad in ("just words here", 'a="unterminated', "starts bare then k=v"):
        assert isinstance(parse(bad, "logfmt"), ParseFailure), bad
    doc = parse("Nov login ok user=bob src=203.0.113.5 reason='bad pw'", "kv")
    assert doc["json"]["user"] == "bob" and doc["src"] == "203.0.113.5" and doc["reason"] == "bad pw"
    assert doc["message"] == "Nov login ok user=bob src=203.0.113.5 reason='bad pw'"
    assert isinstance(parse("no pairs at all", "kv"), ParseFailure)


AUDIT_SYSCALL = [
    'type=SYSCALL msg=audit(1700000000.123:900): arch=c000003e syscall=59 success=yes exit=0 a0=55 items=2 ppid=10 pid=11 auid=1000 uid=0 gid=0 euid=0 tty=pts0 ses=3 comm="cat" exe="/usr/bin/cat" key="shadow"',
    'type=EXECVE msg=audit(1700000000.123:900): argc=2 a0="cat" a1=2F6574632F736861646F77',
    'type=CWD msg=audit(1700000000.123:900): cwd="/root"',
    'type=PATH msg=audit(1700000000.123:900): item=0 name="/usr/bin/cat" inode=1 nametype=NORMAL',
    'type=PATH msg=audit(1700000000.123:900): item=1 name="/etc/shadow" inode=2 nametype=NORMAL',
    "type=PROCTITLE msg=audit(1700000000.123:900): proctitle=636174002F6574632F736861646F77",
    "type=EOE msg=audit(1700000000.123:900): ",
    "type=USER_AUTH msg=audit(1700000001.000:901): pid=5 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication acct=\"mallory\" exe=\"/usr/sbin/sshd\" hostname=203.0.113.5 addr=203.0.113.5 terminal=ssh res=failed'",
]


def test_auditd_record(parse):
    doc = parse(AUDIT_SYSCALL[-1], "auditd")
    assert doc["@timestamp"] == "2023-11-14T22:13:21.000Z"
    assert doc["auditd"]["log"]["record_type"] == "USER_AUTH" and doc["auditd"]["log"]["sequence"] == 901
    assert doc["event"]["outcome"] == "failure" and doc["event"]["category"] == ["authentication"] and doc["event"]["action"] == "authenticated"
    assert doc["user"]["name"] == "mallory" and "id" not in doc["user"]  # auid unset
    assert doc["source"]["ip"] == "203.0.113.5" and doc["process"] == {"pid": 5, "executable": "/usr/sbin/sshd"}
    doc = parse("node=web1 " + AUDIT_SYSCALL[0], "auditd")
    assert doc["host"]["hostname"] == "web1" and doc["process"]["name"] == "cat" and doc["event"]["outcome"] == "success"
    for bad in ("type=SYSCALL msg=audit(abc:1): x", "msg=audit(1.0:1): x"):
        assert isinstance(parse(bad, "auditd"), ParseFailure)


def test_auditd_joiner(engine):
    joiner = AuditJoiner()
    out = []
    for i, line in enumerate(AUDIT_SYSCALL):
        doc = engine.parse(envelope(line, fields={"log_format": "auditd"}))
        out += joiner.feed(doc, i)
    out += joiner.flush()
    assert len(out) == 2
    joined, tag = out[0]
    assert tag == 0
    a = joined["auditd"]["log"]
    assert a["record_types"] == ["SYSCALL", "EXECVE", "CWD", "PATH", "PATH", "PROCTITLE"]
    assert [p["name"] for p in a["path"]] == ["/usr/bin/cat", "/etc/shadow"]
    assert joined["process"]["args"] == ["cat", "/etc/shadow"] and joined["process"]["title"] == "cat /etc/shadow"
    assert joined["process"]["working_directory"] == "/root" and joined["process"]["executable"] == "/usr/bin/cat"
    assert joined["event"]["original"] == "\n".join(AUDIT_SYSCALL[:6])
    assert out[1][0]["auditd"]["log"]["record_type"] == "USER_AUTH" and out[1][1] == 7


def test_cef(parse):
    doc = parse(r"CEF:0|Sec\|urity|threatmanager|1.0|100|worm stopped|High|src=10.0.0.1 dst=2.1.2.2 spt=1232 dpt=443 act=blocked suser=bob msg=a b\=c rt=1700000000000 cs1Label=x cs1=with spaces", "cef")
    assert doc["cef"]["device"]["vendor"] == "Sec|urity" and doc["cef"]["extensions"]["msg"] == "a b=c"
    assert doc["cef"]["extensions"]["cs1"] == "with spaces"
    assert doc["source"] == {"ip": "10.0.0.1", "port": 1232, "user": {"name": "bob"}}
    assert doc["destination"] == {"ip": "2.1.2.2", "port": 443}
    assert doc["event"]["action"] == "blocked" and doc["event"]["code"] == "100" and doc["event"]["severity"] == 8
    assert doc["message"] == "a b=c" and doc["@timestamp"] == "2023-11-14T22:13:20.000Z"
    assert doc["observer"] == {"vendor": "Sec|urity", "product": "threatmanager", "version": "1.0"}
    doc = parse("<134>Nov 26 10:00:00 fw1 CEF:0|Palo Alto|PAN-OS|9.0|THREAT|virus|8|src=192.0.2.1 dst=198.51.100.2", "syslog")
    assert doc["cef"]["device"]["product"] == "PAN-OS" and doc["host"]["hostname"] == "fw1" and doc["source"]["ip"] == "192.0.2.1"
    assert isinstance(parse("CEF:0|only|three|fields", "cef"), ParseFailure)


def test_leef(parse):
    doc = parse("LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=10.50.1.1\tdst=2.10.20.20\tusrName=joe\tsev=7\tdevTime=Nov 26 2026 10:00:00\tdevTimeFormat=MMM dd yyyy HH:mm:ss", "leef")
    assert doc["leef"]["attributes"]["usrName"] == "joe" and doc["user"]["name"] == "joe"
    assert doc["source"]["ip"] == "10.50.1.1" and doc["event"]["severity"] == 7 and doc["event"]["code"] == "15345"
    assert doc["@timestamp"] == "2026-11-26T10:00:00.000Z"
    doc = parse("LEEF:2.0|Lancope|StealthWatch|1.0|41|x5E|src=10.0.1.8^dst=10.0.0.5^srcPort=1000", "leef")
    assert doc["source"] == {"ip": "10.0.1.8", "port": 1000}
    assert isinstance(parse("LEEF:1.0|short", "leef"), ParseFailure)


def test_container_logs(parse):
    path = "/var/log/pods/prod_web-7f9c_0123-4567/nginx/0.log"
    doc = parse("2016-10-06T00:17:09.669794202Z stderr P partial line", "cri", log={"file": {"path": path}, "offset": 0})
    assert doc["@timestamp"] == "2016-10-06T00:17:09.669Z" and doc["stream"] == "stderr" and doc["message"] == "partial line"
    assert doc["log"]["flags"] == ["partial"]
    assert doc["kubernetes"] == {"namespace": "prod", "pod": {"name": "web-7f9c", "uid": "0123-4567"}, "container": {"name": "nginx"}}
    cid = "a" * 64
    doc = parse('{"log":"GET / 200\\n","stream":"stdout","time":"2019-04-09T13:11:14.105637291Z"}', "docker",
                log={"file": {"path": f"/var/lib/docker/containers/{cid}/{cid}-json.log"}, "offset": 0})
    assert doc["message"] == "GET / 200" and doc["container"] == {"id": cid, "runtime": "docker"} and "flags" not in doc["log"]
    assert isinstance(parse('{"stream":"stdout"}', "docker"), ParseFailure)
    assert isinstance(parse("2016-10-06 stdout F x", "cri"), ParseFailure)


def test_winlog(parse):
    line = ('{"@timestamp":"2026-11-26T10:00:00Z","message":"An account failed to log on.","winlog":{"channel":"Security","event_id":4625,'
            '"provider_name":"Microsoft-Windows-Security-Auditing","computer_name":"DC1","event_data":{"TargetUserName":"admin",'
            '"TargetDomainName":"CORP","IpAddress":"::ffff:203.0.113.5","IpPort":"51234","LogonType":"3"}}}')
    for fmt in ("winlog", None):
        doc = parse(line, fmt)
        ev = doc["event"]
        assert (ev["code"], ev["action"], ev["category"], ev["outcome"]) == ("4625", "logon-failed", ["authentication"], "failure")
        assert doc["user"] == {"name": "admin", "domain": "CORP"} and doc["source"] == {"ip": "203.0.113.5", "port": 51234}
        assert doc["host"]["hostname"] == "DC1" and doc["winlog"]["event_data"]["LogonType"] == "3"
    doc = parse('{"EventID":4688,"Channel":"Security","Hostname":"WS1","NewProcessName":"C:\\\\Windows\\\\cmd.exe","NewProcessId":"0x1f4",'
                '"CommandLine":"cmd /c whoami","SubjectUserName":"bob","EventTime":"2026-11-26 10:00:00"}', "winlog")
    assert doc["process"] == {"executable": "C:\\Windows\\cmd.exe", "name": "cmd.exe", "pid": 500, "command_line": "cmd /c whoami"}
    assert doc["event"]["category"] == ["process"] and doc["user"]["name"] == "bob"
    assert isinstance(parse('{"a": 1}', "winlog"), ParseFailure)
    assert isinstance(parse('{"winlog": {"event_id": "x"}}', "winlog"), ParseFailure)


def test_winlog_log_cleared(parse):
    doc = parse('{"winlog": {"channel": "System", "event_id": 104, "provider_name": "Microsoft-Windows-Eventlog", "event_data": {"SubjectUserName": "eve"}}}', "winlog")
    assert doc["event"]["action"] == "audit-log-cleared" and doc["user"]["name"] == "eve"
    doc = parse('{"winlog": {"channel": "System", "event_id": 104, "provider_name": "Something-Else"}}', "winlog")
    assert "action" not in doc["event"]
