"""Log records of every Logwarden process: readable lines on a terminal, JSON elsewhere.

On a terminal (stderr is a TTY) a person reads the records, so each is one line:
`time level component message key=value...`, warnings and errors in colour. Anywhere else
(a pipe, a file, journald, the supervisor's merged stderr sent on to the pipeline) records
stay one structured JSON object per line, each with the component name so merged output
stays attributable. `log_format: json|text` (or `--log-format`) overrides the choice.

Every child of `logwarden up` inherits the supervisor's stderr, so each decides the same way.
Routine state changes (rebalances, topic creation, child starts) are logged at debug level by
their modules, so the default `info` shows what needs attention and little else.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from typing import IO

import orjson

_STD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "color_message"}
FORMATS = ("auto", "json", "text")
# Libraries whose info records are routine chatter (uvicorn's start/stop banner, file events).
NOISY = ("uvicorn.access", "uvicorn.error", "watchdog", "asyncio")
# HTTP client libraries log every request's full URL at info/debug; a webhook URL (Slack's,
# say) is itself the credential, so these stay at WARNING even with --log-level debug.
URL_LOGGING = ("httpx", "httpcore", "urllib3", "elastic_transport", "opensearch")

_COLOURS = {"DEBUG": "\x1b[2m", "WARNING": "\x1b[33m", "ERROR": "\x1b[1;31m", "CRITICAL": "\x1b[1;31m"}
_RESET = "\x1b[0m"


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in record.__dict__.items() if k not in _STD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def __init__(self, component: str):
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "log.level": record.levelname.lower(),
            "component": self.component,
            "pid": os.getpid(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        doc.update(_extras(record))
        if record.exc_info:
            doc["error.stack_trace"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class TextFormatter(logging.Formatter):
    """`16:20:01.123 WARN  agent     message  key=value`: local time, as a terminal user reads it."""

    def __init__(self, component: str, colour: bool):
        super().__init__()
        self.component = component
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created)) + f".{int(record.msecs):03d}"
        level = {"WARNING": "WARN", "CRITICAL": "CRIT"}.get(record.levelname, record.levelname)
        fields = " ".join(f"{k}={_short(v)}" for k, v in _extras(record).items())
        line = f"{stamp} {level:<5} {self.component:<10} {record.getMessage()}" + (f"  {fields}" if fields else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        colour = _COLOURS.get(record.levelname) if self.colour else None
        return f"{colour}{line}{_RESET}" if colour else line


def _short(value: object) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    if " " in text and not text.startswith(("{", "[", '"')):
        text = orjson.dumps(text).decode()
    return text if len(text) <= 200 else text[:197] + "..."


def choose_format(fmt: str, stream: IO[str]) -> str:
    """'text' or 'json' for FMT ('auto': text on a terminal, JSON otherwise)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt != "auto":
        return fmt
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


def setup(component: str, level: str = "info", fmt: str = "auto") -> None:
    stream = sys.stderr
    handler = logging.StreamHandler(stream)
    if choose_format(fmt, stream) == "text":
        handler.setFormatter(TextFormatter(component, colour="NO_COLOR" not in os.environ))
    else:
        handler.setFormatter(JsonFormatter(component))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    if level.lower() != "debug":
        for noisy in NOISY:
            logging.getLogger(noisy).setLevel("WARNING")
    for name in URL_LOGGING:
        logging.getLogger(name).setLevel("WARNING")
