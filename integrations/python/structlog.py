"""structlog events, correlated and exported as OTLP logs.

Every bound logger runs ``BoundLoggerBase._process_event``; wrapping it sees each event that got
past structlog's level filter, whatever the app configured (before or after ``instrument()``):

- the event (its message, context and keywords) at or above ``logs_level`` is handed to the
  core, tied to the current span; its processors and output are left as they are;
- with ``logs_inject_context``, ``trace_id``, ``span_id``, ``session_id`` and ``user_hash`` are
  added to the event dict (keys the app set itself win), so the app's renderer prints them.

A logger that writes through the standard library (``structlog.stdlib``) is left to the
``logging`` integration, so no record is exported twice.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from typing import Any

from fivelens import _logs
from fivelens import semconv as sc
from fivelens._instrument import current_config

_state: dict[str, Any] = {}

_LEVELS = {
    "debug": 10,
    "info": 20,
    "msg": 20,
    "warning": 30,
    "warn": 30,
    "error": 40,
    "err": 40,
    "exception": 40,
    "critical": 50,
    "fatal": 50,
}


def _export(logger: Any, method_name: str, event: Any, context: dict[str, Any], level: int) -> None:
    attrs: dict[str, Any] = {sc.FIVELENS_LOG_SOURCE: "structlog"}
    exc_info = None
    for key, value in context.items():
        if key in ("event", "level", "timestamp", *_logs.FIELDS):
            continue
        if key == "exc_info":
            exc_info = sys.exc_info() if value is True else value
            continue
        attrs[str(key)] = _logs.plain(value)
    if method_name == "exception" and exc_info is None:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and exc_info[0] is not None:
        etype, evalue, tb = exc_info
        attrs[sc.EXCEPTION_TYPE] = getattr(etype, "__name__", str(etype))
        attrs[sc.EXCEPTION_MESSAGE] = str(evalue)
        attrs[sc.EXCEPTION_STACKTRACE] = "".join(traceback.format_exception(etype, evalue, tb))
    name = getattr(logger, "name", None)
    _logs.emit(
        _logs.severity_number(level),
        method_name,
        "" if event is None else str(event),
        attrs,
        scope=name if isinstance(name, str) and name else "structlog",
        time_ns=time.time_ns(),
    )


def instrument() -> str | None:
    if _state:
        return None
    config = current_config()
    if not config.get("capture_logs", True):
        return "capture_logs is off"
    from structlog._base import BoundLoggerBase

    original = BoundLoggerBase._process_event
    threshold = _logs.level_number(config.get("logs_level", "info"))
    inject = bool(config.get("logs_inject_context", False))

    def process_event(self: Any, method_name: str, event: Any, event_kw: dict[str, Any]) -> Any:
        if not _logs.in_progress():
            try:
                if inject:
                    ctx = _logs.log_context()
                    event_kw = {**{k: v for k, v in ctx.items() if k not in self._context}, **event_kw}
                level = _LEVELS.get(method_name, 20)
                if level >= threshold and not isinstance(self._logger, logging.Logger):
                    _export(self, method_name, event, {**self._context, **event_kw}, level)
            except Exception as e:
                _logs.emit_failed(e)
        return original(self, method_name, event, event_kw)

    BoundLoggerBase._process_event = process_event  # type: ignore[method-assign]
    _state.update(original=original, cls=BoundLoggerBase)
    return None


def uninstrument() -> None:
    if not _state:
        return
    _state["cls"]._process_event = _state["original"]
    _state.clear()
