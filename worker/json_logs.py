"""LOG_FORMAT=json: one JSON object per line for log shippers, with the ticket as its own field.

Our log lines already say `ticket=<key>` and never carry customer text, emails or names (the
messages are written that way); this formatter only changes the shape, so a shipper can index
`ticket` without parsing prose. Anything else (`LOG_FORMAT` unset or `text`) keeps the plain format.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime

__all__ = ["JsonFormatter", "TEXT_FORMAT", "configure_root", "use_json", "wants_json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_TICKET = re.compile(r"\bticket=([^\s,;]+)")


def wants_json(env: Mapping[str, str] = os.environ) -> bool:
    return (env.get("LOG_FORMAT") or "").strip().lower() == "json"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        ticket = getattr(record, "ticket", None)
        if ticket is None:
            found = _TICKET.search(message)
            ticket = found.group(1) if found and found.group(1) != "-" else None
        if ticket:
            line["ticket"] = str(ticket)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def use_json(logger: logging.Logger) -> None:
    """Give every handler of `logger` the JSON formatter (used once logging is set up)."""
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())


def configure_root(env: Mapping[str, str] = os.environ) -> None:
    """Under gunicorn nothing configures the root logger; without this the event lines are lost.

    Left alone when something (gunicorn --log-config, pytest) already installed handlers.
    """
    root = logging.getLogger()
    if root.handlers:
        return
    level = logging.getLevelName((env.get("LOG_LEVEL") or "INFO").upper())
    logging.basicConfig(level=level if isinstance(level, int) else logging.INFO, format=TEXT_FORMAT)
    if wants_json(env):
        use_json(root)
