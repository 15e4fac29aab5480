"""Alert notifiers: webhook, Slack-style webhook, SMTP e-mail and file.

Every message is rendered from a jinja2 template in a `SandboxedEnvironment`, because
templates come from configuration and alert fields come from attacker-controlled log
lines: the sandbox refuses attribute access to Python internals, so neither side can
reach code. The template context is the alert document itself (`rule`, `alert`, `event`,
`host`, `source`, `user`, `tags`) plus `doc` for the whole document, `change` and a
`tojson` filter.

An alert is updated in place while its attack goes on (episodes.py); notifiers hear of it
when it opens, when its count reaches one of their `escalation` thresholds, and, with
`on_recovery`, when it is recovered - not on every update. `alert.change` in the notified
document (and `change` in templates) says which: opened, escalated or recovered.

Notifiers are found by `type` in the `NOTIFIERS` registry and run on a background thread
(`Dispatcher`) so a slow endpoint never stalls the stage; HTTP delivery retries with
exponential backoff on connection errors, 429 and 5xx. The queue is bounded: when it is
full, the alert is still on the `alerts` topic, only the notification is dropped (and
counted).
"""
from __future__ import annotations

import logging
import queue
import smtplib
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson
from jinja2.sandbox import SandboxedEnvironment

from .alerts import LEVEL_RANK
from .config import NotifierConfig

log = logging.getLogger(__name__)

QUEUE_MAX = 10_000  # pending notifications before new ones are dropped
BACKOFF_S = 0.2     # first retry delay; doubles per attempt

DEFAULT_TEMPLATES = {
    "webhook": "{{ doc | tojson }}",  # the alert document as JSON
    "file": "{{ doc | tojson }}",
    "slack": ("{% if change == 'recovered' %}:white_check_mark: Recovered: {% elif change == 'escalated' %}:arrow_double_up: Still going, {{ alert.count }} events: {% endif %}"
              ":rotating_light: *[{{ alert.level | upper }}] {{ rule.name }}*"
              "{% if alert.group %} ({% for k, v in alert.group.items() %}{{ k }}={{ v }}{% if not loop.last %}, {% endif %}{% endfor %}){% endif %}\n"
              "{{ alert.count }} event(s) from {{ alert.first_seen }} to {{ alert.last_seen }}"
              "{% if host and host.name %} on {{ host.name | values }}{% endif %}\n"
              "Rule by {{ rule.author or 'unknown' }} - {{ alert.url or alert.query }}"),
    "smtp": ("Logwarden alert: {{ rule.name }} ({{ alert.level }})\n\n"
             "{{ rule.description }}\n\n"
             "Events: {{ alert.count }} between {{ alert.first_seen }} and {{ alert.last_seen }}\n"
             "{% for k, v in alert.group.items() %}{{ k }}: {{ v }}\n{% endfor %}"
             "Search: {{ alert.url or alert.query }}\n\n"
             "Rule: {{ rule.id }} by {{ rule.author or 'unknown' }}{% if rule.license %} ({{ rule.license }}){% endif %}\n"
             "{% for ev in alert.events[:3] %}\n> {{ ev.message or ev.event.original }}{% endfor %}\n"),
}
DEFAULT_SUBJECT = "[{{ alert.level | upper }}] {{ rule.name }}{% if source and source.ip %} from {{ source.ip | values }}{% endif %}"

_env = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
_env.filters["tojson"] = lambda v: orjson.dumps(v, default=str).decode()
# a correlation alert's host.name / source.ip / user.name may be the list of values its events had
_env.filters["values"] = lambda v: ", ".join(map(str, v)) if isinstance(v, list) else str(v)


def render(template: str, alert: dict[str, Any]) -> str:
    ctx = dict(alert)
    ctx["doc"] = alert
    ctx["change"] = (alert.get("alert") or {}).get("change", "opened")
    return _env.from_string(template).render(**ctx)


class Notifier(Protocol):
    cfg: NotifierConfig

    def send(self, alert: dict[str, Any]) -> None: ...


class NotifyError(Exception):
    pass


def redacted(url: str | None) -> str:
    """A webhook URL as errors may show it: scheme, host and port only. Slack-style incoming
    webhook URLs carry their credential in the path, and user:password may sit in the authority."""
    u = httpx.URL(url or "")
    port = f":{u.port}" if u.port else ""
    return f"{u.scheme}://{u.host}{port}/..." if u.host else "(no url)"


def _post_with_retries(cfg: NotifierConfig, client: httpx.Client, content: bytes, headers: dict[str, str]) -> None:
    delay = BACKOFF_S
    last = ""
    for attempt in range(cfg.retries + 1):
        try:
            r = client.post(cfg.url or "", content=content, headers=headers)
            if r.status_code < 300:
                return
            last = f"HTTP {r.status_code}"
            if r.status_code != 429 and r.status_code < 500:
                raise NotifyError(f"{redacted(cfg.url)}: {last} (not retried)")
        except httpx.HTTPError as exc:
            last = (str(exc) or type(exc).__name__).replace(cfg.url or "\0", redacted(cfg.url))
        if attempt < cfg.retries:
            time.sleep(delay)
            delay *= 2
    raise NotifyError(f"{redacted(cfg.url)}: gave up after {cfg.retries + 1} attempts: {last}")


class WebhookNotifier:
    """POSTs the alert as JSON (or the rendered template) to `url`."""

    def __init__(self, cfg: NotifierConfig):
        if not cfg.url:
            raise ValueError("webhook notifier needs url")
        self.cfg = cfg
        self.client = httpx.Client(timeout=cfg.timeout_ms / 1000)

    def send(self, alert: dict[str, Any]) -> None:
        body = render(self.cfg.template or DEFAULT_TEMPLATES["webhook"], alert).encode()
        ctype = "application/json" if body.lstrip()[:1] in (b"{", b"[") else "text/plain; charset=utf-8"
        _post_with_retries(self.cfg, self.client, body, {"content-type": ctype, **self.cfg.headers})


class SlackNotifier(WebhookNotifier):
    """A Slack (or Mattermost, Rocket.Chat) incoming webhook: {"text": <rendered>}."""

    def send(self, alert: dict[str, Any]) -> None:
        text = render(self.cfg.template or DEFAULT_TEMPLATES["slack"], alert)
        _post_with_retries(self.cfg, self.client, orjson.dumps({"text": text}),
                           {"content-type": "application/json", **self.cfg.headers})


class SmtpNotifier:
    def __init__(self, cfg: NotifierConfig):
        if not cfg.mail_to:
            raise ValueError("smtp notifier needs mail_to")
        self.cfg = cfg

    def send(self, alert: dict[str, Any]) -> None:
        c = self.cfg
        msg = EmailMessage()
        msg["From"] = c.mail_from
        msg["To"] = ", ".join(c.mail_to)
        msg["Subject"] = render(c.subject_template or DEFAULT_SUBJECT, alert).replace("\n", " ").strip()
        msg["X-Logwarden-Alert-Id"] = alert["event"]["id"]
        msg.set_content(render(c.template or DEFAULT_TEMPLATES["smtp"], alert))
        with smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=c.timeout_ms / 1000) as smtp:
            if c.smtp_starttls:
                smtp.starttls()
            if c.smtp_username:
                smtp.login(c.smtp_username, c.smtp_password or "")
            smtp.send_message(msg)


class FileNotifier:
    """Appends one line per alert: the alert JSON, or the rendered template."""

    def __init__(self, cfg: NotifierConfig):
        if not cfg.path:
            raise ValueError("file notifier needs path")
        self.cfg = cfg
        self.lock = threading.Lock()

    def send(self, alert: dict[str, Any]) -> None:
        line = render(self.cfg.template or DEFAULT_TEMPLATES["file"], alert).rstrip("\n")
        p = Path(self.cfg.path or "")
        p.parent.mkdir(parents=True, exist_ok=True)
        with self.lock, p.open("a", encoding="utf-8") as f:
            f.write(line + "\n")


NOTIFIERS: dict[str, type] = {"webhook": WebhookNotifier, "slack": SlackNotifier, "smtp": SmtpNotifier, "file": FileNotifier}


def build(cfg: NotifierConfig) -> Notifier:
    return NOTIFIERS[cfg.type](cfg)


class Dispatcher:
    """Delivers alerts to notifiers on one background thread."""

    def __init__(self, notifiers: list[Notifier]):
        self.notifiers = notifiers
        self.q: queue.Queue = queue.Queue(maxsize=QUEUE_MAX)
        self.stats = {"sent": 0, "failed": 0, "dropped": 0}
        self.thread: threading.Thread | None = None
        if notifiers:
            self.thread = threading.Thread(target=self._loop, name="logwarden-notify", daemon=True)
            self.thread.start()

    def submit(self, alert: dict[str, Any], change: str = "opened", before: int = 0) -> None:
        """Queue `alert` for every notifier that wants this change.

        `change`: opened (always sent), updated (sent when the count went from `before` to
        `alert.count` across one of the notifier's `escalation` thresholds, as `escalated`),
        or recovered (sent when the notifier has `on_recovery`). The notified document
        carries the change as `alert.change`."""
        rank = LEVEL_RANK.get(alert["alert"]["level"], 2)
        count = alert["alert"]["count"]
        for n in self.notifiers:
            if rank < LEVEL_RANK[n.cfg.min_level]:
                continue
            if change == "updated":
                if not any(before < t <= count for t in n.cfg.escalation):
                    continue
                what = "escalated"
            elif change == "recovered" and not n.cfg.on_recovery:
                continue
            else:
                what = change
            try:
                self.q.put_nowait((n, {**alert, "alert": {**alert["alert"], "change": what}}))
            except queue.Full:
                self.stats["dropped"] += 1

    def _loop(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                self.q.task_done()
                return
            n, alert = item
            try:
                n.send(alert)
                self.stats["sent"] += 1
            except Exception as exc:  # one failing notifier must not stop the others
                self.stats["failed"] += 1
                log.error("notification failed", extra={"notifier": n.cfg.type, "alert_id": alert["event"]["id"], "error": str(exc)})
            finally:
                self.q.task_done()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until queued notifications are delivered (or failed); False on timeout."""
        end = time.monotonic() + timeout_s
        while self.q.unfinished_tasks and time.monotonic() < end:
            time.sleep(0.01)
        return not self.q.unfinished_tasks

    def close(self, timeout_s: float = 10.0) -> None:
        if self.thread:
            self.flush(timeout_s)
            self.q.put(None)
            self.thread.join(timeout_s)
            self.thread = None
