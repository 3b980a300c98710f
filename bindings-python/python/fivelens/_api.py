"""Decorator support for ``fivelens.span`` and context carrying for threads.

The span hot path (``with fivelens.span(...)``) is in Rust; this module only wraps functions.
For generator functions the span is current only while the generator runs: it is made current on
each resume and reset before each ``yield`` hands control back to the caller.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from . import _native

F = TypeVar("F", bound=Callable[..., Any])

_VAR = _native._context_var()
_MISSING = object()


def _close(span: Any, token: Any, exc: BaseException | None = None) -> None:
    # Instrumentation must never replace the user's exception or result.
    try:
        if exc is None:
            _native._close(span, token)
        else:
            _native._close(span, token, type(exc), exc, exc.__traceback__)
    except Exception as e:  # pragma: no cover - defensive
        _native.report_internal_error("python", f"ending a span failed: {e!r}")


def _decorate(scope: Any, func: F) -> F:
    if inspect.isasyncgenfunction(func):
        return _wrap_async_generator(scope, func)  # type: ignore[return-value]
    if inspect.iscoroutinefunction(func):
        return _wrap_coroutine(scope, func)  # type: ignore[return-value]
    if inspect.isgeneratorfunction(func):
        return _wrap_generator(scope, func)  # type: ignore[return-value]
    if not callable(func):
        raise TypeError(f"fivelens.span(...) decorates functions, not {type(func).__name__}")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        span, token = scope._open()
        try:
            result = func(*args, **kwargs)
        except BaseException as e:
            _close(span, token, e)
            raise
        _close(span, token)
        return result

    return wrapper  # type: ignore[return-value]


def _wrap_coroutine(scope: Any, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        span, token = scope._open()
        try:
            result = await func(*args, **kwargs)
        except BaseException as e:
            _close(span, token, e)
            raise
        _close(span, token)
        return result

    return wrapper


def _end(span: Any, exc: BaseException | None) -> None:
    try:
        if exc is not None and not isinstance(exc, GeneratorExit):
            span.record_exception(exc)
        span.end()
    except Exception as e:  # pragma: no cover - defensive
        _native.report_internal_error("python", f"ending a span failed: {e!r}")


def _wrap_generator(scope: Any, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        span = scope._start()
        token = span._activate()
        try:
            gen = func(*args, **kwargs)
        finally:
            span._deactivate(token)
        failure: BaseException | None = None
        try:
            to_send: Any = None
            to_throw: BaseException | None = None
            while True:
                token = span._activate()
                try:
                    if to_throw is not None:
                        exc, to_throw = to_throw, None
                        item = gen.throw(exc)
                    else:
                        item = gen.send(to_send)
                except StopIteration as stop:
                    return stop.value
                finally:
                    span._deactivate(token)
                try:
                    to_send = yield item
                except GeneratorExit:
                    token = span._activate()
                    try:
                        gen.close()
                    finally:
                        span._deactivate(token)
                    raise
                except BaseException as e:
                    to_throw = e
                    to_send = None
        except BaseException as e:
            failure = e
            raise
        finally:
            _end(span, failure)

    return wrapper


def _wrap_async_generator(scope: Any, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        span = scope._start()
        token = span._activate()
        try:
            agen = func(*args, **kwargs)
        finally:
            span._deactivate(token)
        failure: BaseException | None = None
        try:
            to_send: Any = None
            to_throw: BaseException | None = None
            while True:
                token = span._activate()
                try:
                    if to_throw is not None:
                        exc, to_throw = to_throw, None
                        item = await agen.athrow(exc)
                    else:
                        item = await agen.asend(to_send)
                except StopAsyncIteration:
                    return
                finally:
                    span._deactivate(token)
                try:
                    to_send = yield item
                except GeneratorExit:
                    token = span._activate()
                    try:
                        await agen.aclose()
                    finally:
                        span._deactivate(token)
                    raise
                except BaseException as e:
                    to_throw = e
                    to_send = None
        except BaseException as e:
            failure = e
            raise
        finally:
            _end(span, failure)

    return wrapper


_otel_var: Any = None


def _set_otel_var(var: Any) -> None:
    """Called by the OpenTelemetry bridge so that ``bind_context`` carries OTel's context too."""
    global _otel_var
    _otel_var = var


def bind_context(fn: F) -> F:
    """Returns ``fn`` wrapped to run with the current fivelens span (and OpenTelemetry context,
    when present) wherever it is called: another thread, an executor, a callback.

    Only these context variables are carried, not the caller's whole ``contextvars`` context.
    """
    # Always bind, even to "no span": a pooled thread must not keep whatever span was current
    # when the pool started it.
    frame = _VAR.get()
    otel_var = _otel_var
    otel_ctx = otel_var.get() if otel_var is not None else _MISSING

    @functools.wraps(fn)
    def bound(*args: Any, **kwargs: Any) -> Any:
        token = _VAR.set(frame)
        otel_token = otel_var.set(otel_ctx) if otel_ctx is not _MISSING else None
        try:
            return fn(*args, **kwargs)
        finally:
            if otel_token is not None:
                otel_var.reset(otel_token)
            _VAR.reset(token)

    return bound  # type: ignore[return-value]
