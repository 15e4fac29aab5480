"""Authentication messages of sshd, sudo, su, PAM and the shadow tools (useradd, passwd...).

These run on the *message part* of a syslog line once the syslog parser knows the program
(`sshd[812]: Failed password ...`). `parse_auth(program, msg, doc)` dispatches on the program
and then on the message's first word, so each line meets at most two or three anchored
regexes. Output follows Filebeat's `system.auth` fileset (ECS names, plus the
`system.auth.ssh.*` / `system.auth.sudo.*` details it keeps), with `event.action` naming what
happened in words an analyst searches for (`failed`, `accepted`, `invalid_user`, ...).

The SSH brute-force Sigma rule keys on event.category=authentication, event.outcome=failure,
process.name=sshd, source.ip and user.name: every failed-login shape below sets all of them.

sshd's login lines (`_SSH_LOGIN`) are written once more, as bytes, by the stage's fast path
(`parsers/fastpath.py`, its sshd templates; the C accelerator does only access lines): a
change to the fields here must be made there too; tests/unit/parsers/test_fastpath.py fails
when the two disagree.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from ..core import add_related, is_ip, set_source

Doc = dict[str, Any]

# sshd -------------------------------------------------------------------------------------
_SSH_LOGIN = re.compile(
    r"(Accepted|Failed) (\S+) for (invalid user |illegal user )?(\S*) from (\S+) port (\d{1,5})(?: (ssh\d?))?(?:: (.*))?\Z")
_SSH_INVALID = re.compile(r"(?:Invalid|Illegal) user (\S*) from (\S+)(?: port (\d+))?")
_SSH_CLOSED = re.compile(
    r"Connection (closed|reset) by (?:(authenticating|invalid) user (\S*) )?(\S+) port (\d+)( \[preauth\])?")
_SSH_DISCONNECTED = re.compile(
    r"Disconnected from (?:(authenticating|invalid) user (\S*) |user (\S+) )?(\S+) port (\d+)")
_SSH_RECEIVED = re.compile(r"Received disconnect from (\S+) port (\d+):")
_SSH_NOIDENT = re.compile(r"Did not receive identification string from (\S+)(?: port (\d+))?")
_SSH_MAXAUTH = re.compile(
    r"error: maximum authentication attempts exceeded for (invalid user )?(\S*) from (\S+) port (\d+)")
_SSH_PAM_FAIL = re.compile(r"error: PAM: Authentication failure for (illegal user |invalid user )?(\S*) from (\S+)")
_SSH_PAM_MORE = re.compile(r"PAM (\d{1,9}) more authentication failures?; (.*)")
_SSH_CONNECTION_FROM = re.compile(r"Connection from (\S+) port (\d{1,5}) on (\S+) port (\d{1,5})")
_SSH_NOT_ALLOWED = re.compile(r"User (\S+) from (\S+) not allowed because (.+)\Z")
_SSH_ROOT_REFUSED = re.compile(r"ROOT LOGIN REFUSED FROM (\S+?)(?: port \d+)?\s*\Z")
_SSH_NEGOTIATE = re.compile(r"Unable to negotiate with (\S+) port (\d{1,5}): (.+)\Z")
_SSH_TIMEOUT = re.compile(r"Timeout before authentication for (?:connection from )?(\S+)(?: port (\d{1,5}))?")
_REPEATED = re.compile(r"message repeated (\d{1,9}) times: \[ ?(.*?) ?\]\Z")


def _auth(doc: Doc, action: str, outcome: str | None, category: list[str], type_: list[str]) -> None:
    ev = doc["event"]
    ev["category"] = category
    ev["type"] = type_
    ev["action"] = action
    if outcome:
        ev["outcome"] = outcome


def _user(doc: Doc, name: str) -> None:
    if name:
        doc["user"] = {"name": name}
        add_related(doc, "user", name)


def _src(doc: Doc, addr: str, port: str | None = None) -> None:
    set_source(doc, addr, port)
    if "ip" in doc["source"]:
        add_related(doc, "ip", addr)


def _ssh(msg: str, doc: Doc) -> str | None:
    first = msg[:3]
    if first in ("Acc", "Fai"):
        m = _SSH_LOGIN.match(msg)
        if m:
            # the hottest auth line (brute force): built inline, no helper calls
            verb, method, invalid, user, addr, port, _proto, sig = m.groups()
            ev = doc["event"]
            if verb == "Accepted":
                ev["category"] = ["authentication", "session"]
                ev["action"] = "accepted"
                ev["outcome"] = "success"
            else:
                ev["category"] = ["authentication"]
                ev["action"] = "failed"
                ev["outcome"] = "failure"
            ev["type"] = ["info"]
            ip = is_ip(addr)
            if user:
                doc["user"] = {"name": user}
                doc["related"] = {"user": [user], "ip": [addr]} if ip else {"user": [user]}
            elif ip:
                doc["related"] = {"ip": [addr]}
            doc["source"] = ({"address": addr, "ip": addr, "port": int(port)} if ip
                             else {"address": addr, "domain": addr, "port": int(port)})
            ssh: dict[str, Any] = {"event": verb, "method": method}
            if sig:
                ssh["signature"] = sig
            if invalid:
                ssh["invalid_user"] = True
            doc["system"] = {"auth": {"ssh": ssh}}
            return "sshd.login"
    elif first in ("Inv", "Ill"):
        m = _SSH_INVALID.match(msg)
        if m:
            _auth(doc, "invalid_user", "failure", ["authentication"], ["info"])
            _user(doc, m.group(1))
            _src(doc, m.group(2), m.group(3))
            doc["system"] = {"auth": {"ssh": {"event": "Invalid"}}}
            return "sshd.invalid_user"
    elif first == "Con":
        m = _SSH_CLOSED.match(msg)
        if m:
            verb, kind, user, addr, port, preauth = m.groups()
            _auth(doc, f"connection_{verb}", None, ["network"], ["end", "connection"])
            if user:
                _user(doc, user)
            _src(doc, addr, port)
            if preauth:
                doc["system"] = {"auth": {"ssh": {"preauth": True}}}
            return "sshd.connection_closed"
        m = _SSH_CONNECTION_FROM.match(msg)
        if m:
            _auth(doc, "connection_opened", None, ["network"], ["start", "connection"])
            _src(doc, m.group(1), m.group(2))
            dst: dict[str, Any] = {"address": m.group(3)}
            if is_ip(m.group(3)):
                dst["ip"] = m.group(3)
            dst["port"] = int(m.group(4))
            doc["destination"] = dst
            return "sshd.connection_from"
    elif first == "Use":
        m = _SSH_NOT_ALLOWED.match(msg)
        if m:
            _auth(doc, "not_allowed", "failure", ["authentication"], ["info"])
            _user(doc, m.group(1))
            _src(doc, m.group(2))
            doc["system"] = {"auth": {"ssh": {"reason": m.group(3)}}}
            return "sshd.not_allowed"
    elif first == "ROO":
        m = _SSH_ROOT_REFUSED.match(msg)
        if m:
            _auth(doc, "root_login_refused", "failure", ["authentication"], ["info"])
            _user(doc, "root")
            _src(doc, m.group(1))
            return "sshd.root_login_refused"
    elif first == "Una":
        m = _SSH_NEGOTIATE.match(msg)
        if m:
            _auth(doc, "negotiation_failed", "failure", ["network"], ["connection", "denied"])
            _src(doc, m.group(1), m.group(2))
            doc["system"] = {"auth": {"ssh": {"reason": m.group(3)}}}
            return "sshd.unable_to_negotiate"
    elif first == "Tim":
        m = _SSH_TIMEOUT.match(msg)
        if m:
            _auth(doc, "authentication_timeout", "failure", ["authentication"], ["info"])
            _src(doc, m.group(1), m.group(2))
            return "sshd.timeout"
    elif first == "Dis":
        m = _SSH_DISCONNECTED.match(msg)
        if m:
            kind, user, user2, addr, port = m.groups()
            _auth(doc, "disconnected", None, ["network"], ["end", "connection"])
            if user or user2:
                _user(doc, user or user2)
            _src(doc, addr, port)
            return "sshd.disconnected"
    elif first == "Rec":
        m = _SSH_RECEIVED.match(msg)
        if m:
            _auth(doc, "disconnect_received", None, ["network"], ["end", "connection"])
            _src(doc, m.group(1), m.group(2))
            return "sshd.received_disconnect"
    elif first == "Did":
        m = _SSH_NOIDENT.match(msg)
        if m:
            _auth(doc, "no_identification_string", "failure", ["network"], ["connection", "denied"])
            _src(doc, m.group(1), m.group(2))
            doc["system"] = {"auth": {"ssh": {"dropped_ip": m.group(1)}}}
            return "sshd.no_identification"
    elif first == "err":
        m = _SSH_MAXAUTH.match(msg)
        if m:
            _auth(doc, "max_auth_attempts_exceeded", "failure", ["authentication"], ["info"])
            _user(doc, m.group(2))
            _src(doc, m.group(3), m.group(4))
            return "sshd.max_auth_attempts"
        m = _SSH_PAM_FAIL.match(msg)
        if m:
            _auth(doc, "failed", "failure", ["authentication"], ["info"])
            _user(doc, m.group(2))
            _src(doc, m.group(3))
            return "sshd.pam_failure"
    elif first == "PAM":
        m = _SSH_PAM_MORE.match(msg)
        if m:
            kv = _pam_kv(m.group(2))
            _auth(doc, "failed", "failure", ["authentication"], ["info"])
            _pam_people(doc, kv)
            doc["event"]["count"] = int(m.group(1))
            return "sshd.pam_more_failures"
    elif first == "pam":
        return _pam(msg, doc)
    elif first == "mes":
        return _repeated(msg, doc, _ssh)
    return None


def _repeated(msg: str, doc: Doc, inner: Callable[[str, Doc], str | None]) -> str | None:
    """rsyslog's `message repeated N times: [ ... ]`: parse the inner message, keep the count."""
    m = _REPEATED.match(msg)
    if not m:
        return None
    name = inner(m.group(2), doc)
    if name:
        doc["event"]["count"] = int(m.group(1))
        return name + ".repeated"
    return None


# PAM --------------------------------------------------------------------------------------
_PAM = re.compile(r"pam_(\w+)\(([^:)]+):(\w+)\): (.*)\Z")
_PAM_SESSION = re.compile(r"session (opened|closed) for user (\S+?)(?:\(uid=(\d+)\))?(?: by (\S*?)(?:\(uid=(\d*)\))?)?\Z")
_PAM_KV = re.compile(r"(?<!\w)(\w++)=(\S*)")  # keys start at a word start: linear on long runs


def _pam_kv(text: str) -> dict[str, str]:
    return dict(_PAM_KV.findall(text))


def _pam_people(doc: Doc, kv: dict[str, str]) -> None:
    if kv.get("user"):
        _user(doc, kv["user"])
    rhost = kv.get("rhost")
    if rhost:
        _src(doc, rhost)


def _pam(msg: str, doc: Doc) -> str | None:
    m = _PAM.match(msg)
    if not m:
        return None
    module, service, kind, rest = m.groups()
    pam = {"module": f"pam_{module}", "service": service, "type": kind}
    doc["system"] = {"auth": {"pam": pam}}
    if rest.startswith("session "):
        s = _PAM_SESSION.match(rest)
        if s:
            opened = s.group(1) == "opened"
            _auth(doc, f"session_{s.group(1)}", "success" if opened else None,
                  ["session"], ["start"] if opened else ["end"])
            _user(doc, s.group(2))
            if s.group(3):
                doc["user"]["id"] = s.group(3)
            if s.group(4):
                pam["by"] = s.group(4)
            return "pam.session"
    elif rest.startswith("authentication failure"):
        _auth(doc, "authentication_failure", "failure", ["authentication"], ["info"])
        _pam_people(doc, _pam_kv(rest))
        return "pam.authentication_failure"
    elif rest.startswith("check pass; user unknown"):
        _auth(doc, "user_unknown", "failure", ["authentication"], ["info"])
        return "pam.user_unknown"
    elif rest.startswith("password changed for "):
        _auth(doc, "password_changed", "success", ["iam"], ["user", "change"])
        _user(doc, rest[len("password changed for "):].strip())
        return "pam.password_changed"
    return "pam.other"


# sudo -------------------------------------------------------------------------------------
_SUDO = re.compile(
    r"\s*(\S+) : (?:(.*?) ; )?TTY=(\S*) ; PWD=(.*?) ; USER=(\S+) ;(?: GROUP=\S+ ;)?(?: ENV=.*? ;)? COMMAND=(.*)\Z")


def _sudo(msg: str, doc: Doc) -> str | None:
    if msg.startswith("pam_"):
        return _pam(msg, doc)
    m = _SUDO.match(msg)
    if not m:
        return None
    user, error, tty, pwd, target, command = m.groups()
    sudo: dict[str, Any] = {"tty": tty, "pwd": pwd, "user": target, "command": command}
    if error:
        sudo["error"] = error
        _auth(doc, "sudo_failed", "failure", ["authentication", "process"], ["info"])
    else:
        _auth(doc, "sudo", "success", ["process"], ["start"])
    _user(doc, user)
    doc["user"]["effective"] = {"name": target}
    add_related(doc, "user", target)
    doc.setdefault("process", {})["command_line"] = command
    doc["system"] = {"auth": {"sudo": sudo}}
    return "sudo.command"


# su ---------------------------------------------------------------------------------------
_SU_OK = re.compile(r"(?:\(to (\S+)\) (\S+) on (\S+)|Successful su for (\S+) by (\S+))\Z")
_SU_FAIL = re.compile(r"FAILED (?:SU \(to (\S+)\) (\S+) on (\S+)|su for (\S+) by (\S+))\Z")
_SU_OLD = re.compile(r"([+-]) (\S+) (\S+):(\S+)\Z")


def _su(msg: str, doc: Doc) -> str | None:
    if msg.startswith("pam_"):
        return _pam(msg, doc)
    ok = True
    m = _SU_OK.match(msg)
    if not m:
        m = _SU_FAIL.match(msg)
        ok = False
    if m:
        target, user, tty, target2, user2 = m.groups()
        _auth(doc, "su" if ok else "su_failed", "success" if ok else "failure", ["authentication"], ["info"])
        _user(doc, user or user2)
        doc["user"]["target"] = {"name": target or target2}
        add_related(doc, "user", target or target2)
        return "su.result"
    m = _SU_OLD.match(msg)
    if m:
        ok = m.group(1) == "+"
        _auth(doc, "su" if ok else "su_failed", "success" if ok else "failure", ["authentication"], ["info"])
        _user(doc, m.group(3))
        doc["user"]["target"] = {"name": m.group(4)}
        return "su.legacy"
    if msg.startswith("pam_authenticate: "):
        _auth(doc, "su_failed", "failure", ["authentication"], ["info"])
        return "su.pam_authenticate"
    return None


# shadow tools -----------------------------------------------------------------------------
_NEW_USER = re.compile(r"new user: name=([^,]+), UID=(\d+), GID=(\d+), home=([^,]+), shell=([^,]+?)(?:, from=.*)?\Z")
_NEW_GROUP = re.compile(r"new group: name=([^,]+), GID=(\d+)\Z")
_DEL_USER = re.compile(r"delete user '([^']+)'\Z")


def _shadow(msg: str, doc: Doc) -> str | None:
    if msg.startswith("pam_"):
        return _pam(msg, doc)
    m = _NEW_USER.match(msg)
    if m:
        name, uid, gid, home, shell = m.groups()
        _auth(doc, "user_created", "success", ["iam"], ["user", "creation"])
        doc["user"] = {"name": name, "id": uid}
        doc["group"] = {"id": gid}
        doc["system"] = {"auth": {"useradd": {"home": home, "shell": shell}}}
        add_related(doc, "user", name)
        return "useradd.new_user"
    m = _NEW_GROUP.match(msg)
    if m:
        _auth(doc, "group_created", "success", ["iam"], ["group", "creation"])
        doc["group"] = {"name": m.group(1), "id": m.group(2)}
        return "groupadd.new_group"
    m = _DEL_USER.match(msg)
    if m:
        _auth(doc, "user_deleted", "success", ["iam"], ["user", "deletion"])
        _user(doc, m.group(1))
        return "userdel.delete_user"
    return None


def _generic(msg: str, doc: Doc) -> str | None:
    if msg.startswith("pam_"):
        return _pam(msg, doc)
    return None


PROGRAMS: dict[str, Callable[[str, Doc], str | None]] = {
    "sshd": _ssh,
    "sudo": _sudo,
    "su": _su,
    "useradd": _shadow,
    "groupadd": _shadow,
    "userdel": _shadow,
    "usermod": _shadow,
    "passwd": _shadow,
    "chpasswd": _shadow,
}
AUTH_PROGRAMS = frozenset(PROGRAMS) | {"login", "pam", "polkitd", "systemd-logind", "gdm-password", "sshd-session",
                                        "CRON", "cron", "unix_chkpwd", "gpasswd"}
PROGRAMS["sshd-session"] = _ssh  # OpenSSH >= 9.8 logs per-session messages under this name


def parse_auth(program: str, msg: str, doc: Doc) -> str | None:
    """Recognise an auth message of `program`; returns the pattern name, None if unknown."""
    fn = PROGRAMS.get(program)
    if fn is None:
        return _generic(msg, doc) if msg[:4] == "pam_" else None
    return fn(msg, doc)
