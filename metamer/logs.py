"""Log records never carry a worker's secrets: assignment tokens in paths and plain-link
tokens in query strings are masked before any handler writes them (a 404 or 410 on a worker
page is logged by Django with its path)."""

from __future__ import annotations

import logging
import re

MASK = "…"
_SECRETS = re.compile(r"(/a/)[^/\s?\"']+|((?:\blink|\btoken|\bworkerId|\bPROLIFIC_PID)=)[^&\s\"']+")


def redact(text: str) -> str:
    """``text`` with every assignment token and link token replaced by ``…``."""
    return _SECRETS.sub(lambda m: (m.group(1) or m.group(2)) + MASK, text)


class RedactTokens(logging.Filter):
    """Rewrites the record's message (its arguments merged in) with the secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
