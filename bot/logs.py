"""Logging set-up: text or one JSON object per line, with secrets scrubbed from every record.

Context (job id, guild id, user id) travels in ``contextvars`` so a log line written deep in the
core carries the ids of the job it belongs to without threading them through every call.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

job_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("job_id", default=None)
guild_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("guild_id", default=None)
user_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)

_CONTEXT = (("job_id", job_id_var), ("guild_id", guild_id_var), ("user_id", user_id_var))
MASK = "********"


@contextmanager
def log_context(
    *, job_id: int | None = None, guild_id: int | None = None, user_id: int | None = None
) -> Iterator[None]:
    """Attach ids to every log record written inside the block (and tasks started in it)."""
    tokens = []
    for value, var in ((job_id, job_id_var), (guild_id, guild_id_var), (user_id, user_id_var)):
        if value is not None:
            tokens.append((var, var.set(value)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class SecretFilter(logging.Filter):
    """Replaces every known secret in a record's message, arguments and traceback text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if len(s) >= 4)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = self.scrub(record.getMessage())
        record.msg = message
        record.args = None
        if record.exc_info:
            # Render the traceback now so it can be scrubbed; formatters reuse exc_text.
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _CONTEXT:
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ids, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, _ in _CONTEXT:
            value = getattr(record, name, None)
            if value is not None:
                payload[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s%(ids)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(
            f"{name}={value}"
            for name, _ in _CONTEXT
            if (value := getattr(record, name, None)) is not None
        )
        record.ids = f" [{ids}]" if ids else ""
        return super().format(record)


def setup_logging(
    *, level: str, fmt: str, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> None:
    """Configure the root logger once for the process."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_ContextFilter())
    handler.addFilter(SecretFilter(secrets))
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # discord.py's HTTP layer logs request routes at DEBUG with webhook tokens in them.
    logging.getLogger("discord.http").setLevel(max(logging.INFO, root.level))
    logging.getLogger("discord.webhook.async_").setLevel(max(logging.INFO, root.level))
