"""Replay of recorded model calls and evaluation datasets from their snapshots (the core's
``replay`` module; the same as ``fivelens replay`` and ``fivelens dataset``). These are tools:
they read the store (or a file of exported spans) and call the provider, so they block until
done; the GIL is released meanwhile."""

from __future__ import annotations

import json
from typing import Any

from . import _native


def _options(**kwargs: Any) -> str:
    return json.dumps({k: v for k, v in kwargs.items() if v is not None})


def replay(
    trace_id: str,
    span_id: str | None = None,
    *,
    base_url: str | None = None,
    model: str | None = None,
    n: int = 1,
    api_key: str | None = None,
    timeout: float | None = None,
    source: str | None = None,
    db: str | None = None,
) -> list[dict[str, Any]]:
    """Re-sends the snapshotted model calls of ``trace_id`` (one when ``span_id`` is given; a
    unique prefix is enough) through the provider's protocol to ``base_url`` (else
    ``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL``, else the provider), with ``model`` instead of
    the recorded one, ``n`` times. One report per call: the recorded outcome, the runs, a line
    diff (``-`` recorded, ``+`` replayed), the token/cost/latency ``change`` and the ``variance``
    over the runs. ``source`` reads a file of exported spans (OTLP JSON) instead of the store
    (``db``, else the default store). Raises ``ValueError`` when nothing can be replayed."""
    text = _native._replay(
        _options(
            trace_id=trace_id,
            span_id=span_id,
            base_url=base_url,
            model=model,
            n=n,
            api_key=api_key,
            timeout=timeout,
            **{"from": source},
            db=db,
        )
    )
    result: list[dict[str, Any]] = json.loads(text)
    return result


def export_dataset(
    path: str | None = None,
    *,
    prompt_hash: str | None = None,
    model: str | None = None,
    stage: str | None = None,
    finish_reason: str | None = None,
    min_score: float | None = None,
    max_score: float | None = None,
    since: str | float | None = None,
    until: str | float | None = None,
    reason: str | None = None,
    source: str | None = None,
    db: str | None = None,
) -> list[dict[str, Any]]:
    """The snapshotted calls matching the filters as dataset lines (``input``,
    ``expected_output``, ``tools``, ``metadata``, ``request``), oldest first; also written to
    ``path`` as JSONL when given. ``since``/``until``: epoch seconds, ``2026-01-31T12:00`` (UTC)
    or an age (``24h``, ``7d``); scores are those of the call's evaluation records."""
    text = _native._dataset_export(
        _options(
            out=path,
            prompt_hash=prompt_hash,
            model=model,
            stage=stage,
            finish_reason=finish_reason,
            min_score=min_score,
            max_score=max_score,
            since=since,
            until=until,
            reason=reason,
            **{"from": source},
            db=db,
        )
    )
    result: list[dict[str, Any]] = json.loads(text)
    return result


def run_dataset(
    dataset: str | list[dict[str, Any]],
    *,
    base_url: str | None = None,
    model: str | None = None,
    n: int = 1,
    api_key: str | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Runs each line of a dataset (a JSONL path, or the lines ``export_dataset`` returned)
    against ``model`` at ``base_url``; per line the replay report with its ``drift`` (1 minus
    the core's lexical similarity to the expected output), and a ``summary``."""
    lines = None if isinstance(dataset, str) else dataset
    path = dataset if isinstance(dataset, str) else None
    text = _native._dataset_run(
        _options(path=path, lines=lines, base_url=base_url, model=model, n=n, api_key=api_key, timeout=timeout)
    )
    result: dict[str, Any] = json.loads(text)
    return result
