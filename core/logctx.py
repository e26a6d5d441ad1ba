"""The request id in every log line (issue 17): RequestIdMiddleware sets it for the request's
thread, `RequestIdFilter` puts it on each record (`-` outside a request), and with
`GATEHOUSE_LOG_FORMAT=json` each line is one JSON object, for log collectors."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

request_id: ContextVar[str] = ContextVar("gatehouse_request_id", default="-")


def end_request(**kwargs) -> None:
    """`request_finished` (the response closed, its body sent): lines after it are no request's."""
    request_id.set("-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line = {
            "time": when.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)
