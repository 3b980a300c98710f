"""The app's ``logging`` records, correlated and exported as OTLP logs.

Two things, both undone by ``uninstrument()``:

- every ``LogRecord`` gets ``trace_id``, ``span_id``, ``session_id`` and ``user_hash``
  attributes (empty strings outside a span), so a format that asks for them
  (``%(trace_id)s``) prints them; formats that do not are unchanged. An app passing one of those
  names in ``extra=`` keeps its own value (no ``KeyError``).
- every record a logger handles at or above ``logs_level`` is also handed to the core, tied to
  the current span (redaction, size limits and the per-trace budget happen on the processing
  thread). This wraps ``Logger.callHandlers`` rather than adding a handler to the root logger:
  a root with no handler of its own keeps printing warnings through ``logging.lastResort``, and
  the app's handlers get every record as before.

Records of fivelens's own loggers, and any record logged while a record is being handed over,
are not captured (no recursion).
"""

from __future__ import annotations

import contextvars
import logging
import traceback
from typing import Any

from fivelens import _logs
from fivelens import semconv as sc
from fivelens._instrument import current_config

# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", *_logs.FIELDS}

_skip: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("fivelens_log_fields_skip", default=frozenset())
_state: dict[str, Any] = {}


class FivelensHandler(logging.Handler):
    """Hands records to fivelens; never raises, never prints."""

    def emit(self, record: logging.LogRecord) -> None:
        if _logs.in_progress() or record.name == "fivelens" or record.name.startswith("fivelens."):
            return
        try:
            body = record.getMessage()
        except Exception:
            body = str(record.msg)
        try:
            attrs: dict[str, Any] = {
                sc.CODE_FILE_PATH: record.pathname,
                sc.CODE_FUNCTION_NAME: record.funcName,
                sc.CODE_LINE_NUMBER: record.lineno,
                sc.THREAD_NAME: record.threadName,
                sc.FIVELENS_LOG_SOURCE: "logging",
            }
            for key, value in record.__dict__.items():
                if key not in _STANDARD and not key.startswith("_"):
                    attrs[key] = _logs.plain(value)
            if record.exc_info and record.exc_info[0] is not None:
                etype, evalue, tb = record.exc_info
                attrs[sc.EXCEPTION_TYPE] = etype.__name__
                attrs[sc.EXCEPTION_MESSAGE] = str(evalue)
                attrs[sc.EXCEPTION_STACKTRACE] = "".join(traceback.format_exception(etype, evalue, tb))
            _logs.emit(
                _logs.severity_number(record.levelno),
                record.levelname,
                body,
                attrs,
                scope=record.name,
                time_ns=int(record.created * 1e9),
            )
        except Exception as e:
            _logs.emit_failed(e)

    def handleError(self, record: logging.LogRecord) -> None:
        # Never print a traceback into the app's stderr on our behalf.
        pass


def instrument() -> str | None:
    if _state:
        return None
    config = current_config()
    if not config.get("capture_logs", True):
        return "capture_logs is off"
    previous_factory = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous_factory(*args, **kwargs)
        try:
            skip = _skip.get()
            for key, value in _logs.log_context().items():
                if key not in skip:
                    record.__dict__[key] = value
        except Exception:
            pass
        return record

    make_record = logging.Logger.makeRecord

    def make_record_keeping_extra(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
        # `extra=` naming one of our fields would raise KeyError ("Attempt to overwrite"): the
        # app's value wins, ours is left out.
        extra = kwargs.get("extra", args[8] if len(args) > 8 else None)
        clash = frozenset(k for k in _logs.FIELDS if k in extra) if isinstance(extra, dict) else frozenset()
        if clash:
            token = _skip.set(clash)
            try:
                return make_record(self, *args, **kwargs)
            finally:
                _skip.reset(token)
        return make_record(self, *args, **kwargs)

    handler = FivelensHandler(level=_logs.level_number(config.get("logs_level", "info")))
    call_handlers = logging.Logger.callHandlers

    def call_handlers_and_export(self: logging.Logger, record: logging.LogRecord) -> None:
        call_handlers(self, record)
        if record.levelno >= handler.level:
            handler.emit(record)

    logging.setLogRecordFactory(factory)
    logging.Logger.makeRecord = make_record_keeping_extra  # type: ignore[method-assign]
    logging.Logger.callHandlers = call_handlers_and_export  # type: ignore[method-assign]
    _state.update(
        factory=factory,
        previous_factory=previous_factory,
        make_record=make_record,
        call_handlers=call_handlers,
        handler=handler,
    )
    return None


def uninstrument() -> None:
    if not _state:
        return
    logging.Logger.callHandlers = _state["call_handlers"]  # type: ignore[method-assign]
    if logging.getLogRecordFactory() is _state["factory"]:
        logging.setLogRecordFactory(_state["previous_factory"])
    logging.Logger.makeRecord = _state["make_record"]  # type: ignore[method-assign]
    _state.clear()
