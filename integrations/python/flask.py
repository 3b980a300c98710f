"""Flask apps: each request is a SERVER span continuing the caller's trace
(``fivelens.wsgi_middleware``, see ``fivelens._http``), with ``http.route`` from the matched URL
rule (read when Flask's ``request_started`` signal fires).

``Flask.wsgi_app`` is wrapped, so apps created before ``instrument()`` are covered too, and an
app whose ``wsgi_app`` the app wraps in its own middleware keeps that middleware outside. Apps
that OpenTelemetry's Flask or WSGI instrumentation covers are left to it.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

from fivelens import _hooks, _http

_patched: list[ModuleType] = []


def instrument() -> None:
    _hooks.when_imported("flask", _patch)


def uninstrument() -> None:
    _hooks.cancel("flask")
    for module in _patched:
        original = getattr(module.Flask.wsgi_app, "__fivelens_original__", None)
        if original is not None:
            module.Flask.wsgi_app = original
        module.request_started.disconnect(_route_seen)
    _patched.clear()


def _route_seen(_sender: Any, **_extra: Any) -> None:
    try:
        serving = _http.serving()
        if serving is None:
            return
        from flask import request

        rule = request.url_rule
        if rule is not None:
            serving.route = rule.rule
    except Exception as e:
        _http._report("reading a Flask route", e)


def _patch(module: ModuleType) -> None:
    if _patched:
        return
    original = module.Flask.wsgi_app

    @functools.wraps(original)
    def wsgi_app(self: Any, environ: Any, start_response: Any) -> Any:
        if getattr(self, "_is_instrumented_by_opentelemetry", False):
            return original(self, environ, start_response)
        return _http.serve_wsgi(functools.partial(original, self), environ, start_response)

    wsgi_app.__fivelens_original__ = original  # type: ignore[attr-defined]
    module.Flask.wsgi_app = wsgi_app
    module.request_started.connect(_route_seen, weak=False)
    _patched.append(module)
