"""Structured logs: one JSON object a line, with incident and alert ids when known."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({})))
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
"""The plain format (`[log] format = "text"`): only the message carries ids."""


class JsonFormatter(logging.Formatter):
    """Render a record and its `extra=` fields (e.g. incident_id) as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class OverlapSkips(logging.Filter):
    """Drops APScheduler's warning that a job's run was skipped because its previous
    run was still going.

    Every job of the daemon runs one instance at a time by design (`max_instances=1`,
    `coalesce`): the run under way does the skipped run's work. During a long catch-up
    (the due clocks of a day's downtime) each poke and each interval falls due while
    the run goes on, and the warning filled the log every few seconds, saying nothing
    an operator could act on; how far the work is behind is `slad_scheduler_lag_seconds`.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in str(record.msg)


def configure(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, OverlapSkips) for f in scheduler_log.filters):
        scheduler_log.addFilter(OverlapSkips())
