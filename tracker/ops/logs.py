"""Log context: every line names the request or the Celery task it was written for.

The request id comes from the proxy's `X-Request-ID` (when it looks like one) or is made here;
it is echoed in the response, so the access log, the app's lines and the client agree.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from celery import current_task

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id_from(header: str | None) -> str:
    """The caller's id when it is a sane token, else a new one."""
    if header and _VALID_REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


def _task_id() -> str:
    request = getattr(current_task, "request", None)
    return (getattr(request, "id", None) or "") if current_task else ""


class ContextFilter(logging.Filter):
    """Adds `request_id`, `task_id` and `ctx` (`req=…`, `task=…` or `-`) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(record, "request_id", "") or request_id_var.get()
        record.task_id = getattr(record, "task_id", "") or _task_id()
        if record.request_id:
            record.ctx = f"req={record.request_id}"
        elif record.task_id:
            record.ctx = f"task={record.task_id}"
        else:
            record.ctx = "-"
        return True


# gunicorn's access-log atoms worth a JSON key each (see gunicorn.conf.py).
_ACCESS_ATOMS = {
    "h": "remote_addr",
    "m": "method",
    "U": "path",
    "q": "query",
    "s": "status",
    "B": "bytes",
    "M": "duration_ms",
    "a": "user_agent",
    "{x-request-id}o": "request_id",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ids, and the exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            entry["message"] = "request"
            for atom, key in _ACCESS_ATOMS.items():
                value = record.args.get(atom)
                if value not in (None, "-", ""):
                    entry[key] = value
        else:
            entry["message"] = record.getMessage()
        for key in ("request_id", "task_id"):
            value = getattr(record, key, "")
            if value and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
