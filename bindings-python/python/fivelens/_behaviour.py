"""The behaviour lens: guardrails and their false positives, behavioural signals, drift against
golden outputs, asynchronous evaluations and Time-To-Good-Output.

Each API here writes span attributes (or a short span) and returns; the core's processing
thread turns them into metrics, compares outputs with their golden counterparts and follows
sessions to their first accepted output. The one thing that runs Python code later is the
evaluation pool: evaluators run on its threads, never on the caller's, and an evaluation the
pool cannot take is dropped and counted.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import os
import queue
import random
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from . import _native
from . import semconv as sc
from ._logs import record_evaluation

F = TypeVar("F", bound=Callable[..., Any])

VERDICTS = ("pass", "flag", "block")
OUTCOMES = ("accepted", "regenerated", "edited", "abandoned")


def _report(message: str) -> None:
    try:
        _native.report_internal_error("behaviour", message)
    except Exception:
        pass


# ---- guardrails ------------------------------------------------------------------------------


class GuardrailCheck:
    """One guardrail check, recorded as the span ``guardrail <policy>`` when the block ends."""

    __slots__ = ("action", "policy", "scores", "span", "verdict")

    def __init__(self, span: _native.Span, policy: str) -> None:
        self.span = span
        self.policy = policy
        self.verdict = "pass"
        self.action: str | None = None
        self.scores: dict[str, float] = {}

    def record(
        self,
        verdict: str,
        *,
        action: str | None = None,
        scores: Mapping[str, float] | None = None,
    ) -> None:
        """The check's verdict (``pass``, ``flag`` or ``block``), the action the app took
        (``allow``, ``block``, ``redact``, ``rewrite``, ...) and scores per dimension."""
        v = str(verdict).lower()
        if v not in VERDICTS:
            _report(f"guardrail {self.policy}: unknown verdict {verdict!r} (pass, flag, block); recorded as flag")
            v = "flag"
        self.verdict = v
        if action is not None:
            self.action = str(action)
        for k, s in (scores or {}).items():
            try:
                self.scores[str(k)] = float(s)
            except (TypeError, ValueError):
                _report(f"guardrail {self.policy}: score {k!r} is not a number")

    def _finish(self) -> None:
        span = self.span
        span.set_attribute(sc.FIVELENS_GUARDRAIL_VERDICT, self.verdict)
        action = self.action or ("block" if self.verdict == "block" else "allow")
        span.set_attribute(sc.FIVELENS_GUARDRAIL_ACTION, action)
        for k, s in self.scores.items():
            span.set_attribute(sc.FIVELENS_GUARDRAIL_SCORE_PREFIX + k, s)
        if self.verdict == "block":
            # The tail sampler's keep policy keeps every trace with a block.
            span.set_attribute(sc.FIVELENS_SAMPLING_KEEP, f"guardrail:{self.policy}")


def _result_into(check: GuardrailCheck, result: Any) -> None:
    """A decorated check's return value: a verdict string, or a mapping with ``verdict``,
    ``action`` and ``scores``."""
    if isinstance(result, str) and result.lower() in VERDICTS:
        check.record(result)
    elif isinstance(result, Mapping) and "verdict" in result:
        check.record(result["verdict"], action=result.get("action"), scores=result.get("scores"))


class _Guardrail:
    """What ``guardrail(...)`` returns: a context manager yielding a ``GuardrailCheck``, and a
    decorator whose function returns the verdict (or a mapping with ``verdict``, ``action``,
    ``scores``)."""

    __slots__ = ("_attributes", "_cm", "_links", "policy")

    def __init__(self, policy: str, attributes: dict[str, Any], links: list[Any]) -> None:
        self.policy = policy
        self._attributes = attributes
        self._links = links

    @contextmanager
    def _check(self) -> Iterator[GuardrailCheck]:
        with _native.span(f"guardrail {self.policy}", attributes=self._attributes, links=self._links or None) as span:
            check = GuardrailCheck(span, self.policy)
            try:
                yield check
            finally:
                try:
                    check._finish()
                except Exception as e:
                    _report(f"guardrail {self.policy}: {e!r}")

    def __enter__(self) -> GuardrailCheck:
        self._cm: Any = self._check()
        return self._cm.__enter__()

    def __exit__(self, *exc: Any) -> bool | None:
        return bool(self._cm.__exit__(*exc))

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self._check() as check:
                    result = await func(*args, **kwargs)
                    _result_into(check, result)
                    return result

            return run_async  # type: ignore[return-value]

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self._check() as check:
                result = func(*args, **kwargs)
                _result_into(check, result)
                return result

        return run  # type: ignore[return-value]


def _as_parent(target: Any) -> tuple[Any, str | None, str | None]:
    """``(parent for a span or None, trace id, span id)`` of a span, a traceparent, a trace id
    (32 hex) or a span id (16 hex)."""
    if target is None:
        return None, None, None
    if hasattr(target, "trace_id") and hasattr(target, "span_id"):
        return target, str(target.trace_id), str(target.span_id)
    text = str(target).strip().lower()
    parts = text.split("-")
    if len(parts) == 4 and len(parts[1]) == 32 and len(parts[2]) == 16:
        return text, parts[1], parts[2]
    if len(text) == 32 and all(c in "0123456789abcdef" for c in text):
        return None, text, None
    if len(text) == 16 and all(c in "0123456789abcdef" for c in text):
        return None, None, text
    return None, None, None


def guardrail(
    policy: str,
    *,
    resubmission_of: Any = None,
    attributes: Mapping[str, Any] | None = None,
) -> Any:
    """A guardrail check as a span ``guardrail <policy>``: its verdict (``pass``, ``flag``,
    ``block``), the action taken, scores per dimension and its latency. A block sets the trace's
    keep flag, so the tail sampler keeps it. ``resubmission_of`` (the blocked check's span, its
    ``traceparent``, trace or span id) links this check to the one that blocked the previous
    submission and counts a resubmission.

        with fivelens.guardrail("toxicity") as check:
            score = classifier(text)
            check.record("block" if score > 0.8 else "pass", scores={"toxicity": score})

        @fivelens.guardrail("pii")
        def check_pii(text): return "flag" if has_pii(text) else "pass"
    """
    attrs: dict[str, Any] = {sc.FIVELENS_GUARDRAIL_POLICY: str(policy)}
    links: list[Any] = []
    if resubmission_of is not None:
        parent, trace_id, span_id = _as_parent(resubmission_of)
        attrs[sc.FIVELENS_GUARDRAIL_RESUBMISSION] = True
        if parent is not None:
            links.append((parent, {sc.FIVELENS_GUARDRAIL_RESUBMISSION: True}))
        if trace_id:
            attrs[sc.FIVELENS_FEEDBACK_TRACE_ID] = trace_id
        if span_id:
            attrs[sc.FIVELENS_FEEDBACK_SPAN_ID] = span_id
    for k, v in (attributes or {}).items():
        attrs.setdefault(str(k), v)
    return _Guardrail(str(policy), attrs, links)


def _feedback_span(kind: str, target: Any, attributes: dict[str, Any]) -> bool:
    parent, trace_id, span_id = _as_parent(target)
    if trace_id is None and span_id is None:
        _report(f"feedback {kind}: expected a span, a traceparent, a trace id or a span id, got {target!r}")
        return False
    attrs = {sc.FIVELENS_FEEDBACK_KIND: kind, **attributes}
    if trace_id:
        attrs[sc.FIVELENS_FEEDBACK_TRACE_ID] = trace_id
    if span_id:
        attrs[sc.FIVELENS_FEEDBACK_SPAN_ID] = span_id
    try:
        span = _native.start_span(f"feedback {kind}", parent=parent, attributes=attrs)
        span.end()
        return True
    except Exception as e:
        _report(f"feedback {kind}: {e!r}")
        return False


class Feedback:
    """``fivelens.feedback``: reports about checks already made, from the app, a reviewer or a
    user action. Each is a short span in the checked trace (a child of the check when its span
    id is known), so it works from any process."""

    @staticmethod
    def false_positive(trace_or_span_id: Any, policy: str, *, reason: str | None = None) -> bool:
        """The check of ``policy`` in ``trace_or_span_id`` (its span, ``traceparent``, trace
        id or span id) was a false positive: counted in ``fivelens.guardrail.false_positives``
        and the rate ``fivelens.guardrail.false_positive_rate``."""
        attrs: dict[str, Any] = {sc.FIVELENS_GUARDRAIL_POLICY: str(policy)}
        if reason is not None:
            attrs[sc.FIVELENS_FEEDBACK_REASON] = str(reason)
        return _feedback_span("false_positive", trace_or_span_id, attrs)

    @staticmethod
    def over_redaction(trace_or_span_id: Any, pii_type: str | None = None) -> bool:
        """The redactor removed something that was not PII (of ``pii_type``, e.g. ``PHONE``):
        counted in ``fivelens.redaction.over_redactions``."""
        attrs: dict[str, Any] = {}
        if pii_type is not None:
            attrs[sc.FIVELENS_PII_TYPE] = str(pii_type).upper()
        return _feedback_span("over_redaction", trace_or_span_id, attrs)


feedback = Feedback()


# ---- behavioural signals ---------------------------------------------------------------------


@contextmanager
def _target(span: Any, name: str) -> Iterator[Any]:
    """The given span, else the current one, else a short span of its own."""
    if span is not None:
        yield span
        return
    current = _native.current_span()
    if current is not None:
        yield current
        return
    with _native.span(name) as own:
        yield own


def record_confidence(score: float, *, source: str | None = None, span: Any = None) -> None:
    """A confidence the app read from the model's structured output (0 to 1), on the current
    span (``fivelens.confidence.score``) and in the ``fivelens.confidence`` histogram."""
    try:
        value = float(score)
        with _target(span, "confidence") as s:
            s.set_attribute(sc.FIVELENS_CONFIDENCE_SCORE, value)
            if source is not None:
                s.set_attribute(sc.FIVELENS_CONFIDENCE_SOURCE, str(source))
    except Exception as e:
        _report(f"record_confidence: {e!r}")


def record_intent(scores: Mapping[str, float], *, span: Any = None) -> tuple[str, float] | None:
    """An intent classification (score per intent): every score on the current span, the top
    intent and its score in the ``fivelens.intent.score`` histogram, and a classification whose
    top score is below ``intent_low_confidence_threshold`` counted in
    ``fivelens.intent.low_confidence``. Returns the top intent and its score."""
    try:
        clean = {str(k): float(v) for k, v in scores.items()}
        if not clean:
            return None
        top = max(clean.items(), key=lambda kv: kv[1])
        with _target(span, "intent") as s:
            for k, v in clean.items():
                s.set_attribute(sc.FIVELENS_INTENT_SCORES_PREFIX + k, v)
            s.set_attribute(sc.FIVELENS_INTENT_NAME, top[0])
            s.set_attribute(sc.FIVELENS_INTENT_SCORE, top[1])
        return top
    except Exception as e:
        _report(f"record_intent: {e!r}")
        return None


def record_rerank(scores: Sequence[float], *, span: Any = None) -> float | None:
    """A re-ranker's scores: top, bottom, their spread (top minus bottom) and the count on the
    current span, the spread in the ``fivelens.rerank.spread`` histogram (a spread collapsing
    over time is retrieval degrading). Returns the spread."""
    try:
        values = [float(v) for v in scores if not math.isnan(float(v))]
        if not values:
            return None
        top, bottom = max(values), min(values)
        with _target(span, "rerank") as s:
            s.set_attribute(sc.FIVELENS_RERANK_TOP_SCORE, top)
            s.set_attribute(sc.FIVELENS_RERANK_BOTTOM_SCORE, bottom)
            s.set_attribute(sc.FIVELENS_RERANK_SPREAD, top - bottom)
            s.set_attribute(sc.FIVELENS_RERANK_DOCUMENTS, len(values))
        return top - bottom
    except Exception as e:
        _report(f"record_rerank: {e!r}")
        return None


# ---- drift -----------------------------------------------------------------------------------

Embedder = Callable[[str], Sequence[float]]
_embedder: Embedder | None = None
_embedding_cache: dict[tuple[str, str], list[float]] = {}


def register_golden(prompt_version: str, output: str, *, input: str | None = None) -> None:
    """Registers the golden output of ``prompt_version`` (or of one test ``input`` of it): new
    outputs are compared with it by ``check_drift``. Kept in the local store, or in the file
    named by ``drift_goldens_file``."""
    try:
        _native._register_golden(str(prompt_version), str(output), input)
    except Exception as e:
        _report(f"register_golden: {e!r}")


def set_embedder(embed: Embedder | None) -> None:
    """The embedding function drift checks use (text to vector; it runs on the evaluation pool,
    never on the caller's thread). ``None`` goes back to the core's lexical similarity."""
    global _embedder
    _embedder = embed
    _embedding_cache.clear()


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    if not a or len(a) != len(b):
        return 0.0
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return 0.0 if na == 0 or nb == 0 else max(0.0, min(1.0, dot / (na * nb)))


def check_drift(
    output: str,
    *,
    prompt_version: str,
    input: str | None = None,
    span: Any = None,
    embed: Embedder | None = None,
) -> None:
    """Compares ``output`` with the golden output of ``prompt_version`` (the one of ``input``
    when registered): ``fivelens.drift.similarity`` on the current span and in the histogram
    by prompt version. With an embedding function (``embed`` or ``set_embedder``) the cosine of
    the two embeddings, computed on the evaluation pool and written as a
    ``gen_ai.evaluation.result`` named ``fivelens.drift``; otherwise the core's lexical
    similarity, computed on its processing thread."""
    try:
        embedder = embed or _embedder
        if embedder is None:
            with _target(span, f"drift {prompt_version}") as s:
                s.set_attribute(sc.FIVELENS_DRIFT_PROMPT_VERSION, str(prompt_version))
                s.set_attribute(sc.PRIVATE_DRIFT_OUTPUT, str(output))
                if input is not None:
                    s.set_attribute(sc.PRIVATE_DRIFT_INPUT, str(input))
            return
        judged = span if span is not None else _native.current_span()
        version = str(prompt_version)

        def job() -> None:
            golden = _native._golden(version, input)
            if golden is None:
                return
            key = (version, golden)
            g = _embedding_cache.get(key)
            if g is None:
                g = [float(x) for x in embedder(golden)]
                if len(_embedding_cache) < 1024:
                    _embedding_cache[key] = g
            o = [float(x) for x in embedder(str(output))]
            record_evaluation(
                sc.EVALUATION_DRIFT,
                score_value=_cosine(o, g),
                span=judged,
                attributes={sc.FIVELENS_DRIFT_PROMPT_VERSION: version, sc.FIVELENS_DRIFT_METHOD: "embedding"},
            )

        _pool().submit(sc.EVALUATION_DRIFT, job)
    except Exception as e:
        _report(f"check_drift: {e!r}")


# ---- asynchronous evaluations ----------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationSample:
    """What an evaluator judges."""

    output: str | None = None
    input: str | None = None
    context: Any = None
    """The retrieved context (for a factual-consistency check)."""
    trace_id: str | None = None
    span_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluationResult:
    """What an evaluator returns (a number or a ``bool`` also do: the score, or pass/fail)."""

    score: float | None = None
    label: str | None = None
    explanation: str | None = None


Evaluator = Callable[[EvaluationSample], Any]


@dataclass
class _Registered:
    name: str
    fn: Evaluator
    sample_rate: float


_evaluators: dict[str, _Registered] = {}


class _Pool:
    """A bounded pool of daemon threads (rebuilt after a fork)."""

    def __init__(self, workers: int, queue_size: int) -> None:
        self.pid = os.getpid()
        self.queue: queue.Queue[tuple[str, Callable[[], None]] | None] = queue.Queue(maxsize=max(1, queue_size))
        self.workers = [
            threading.Thread(target=self._run, name=f"fivelens-eval-{i}", daemon=True) for i in range(max(1, workers))
        ]
        for t in self.workers:
            t.start()

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            name, job = item
            try:
                job()
            except Exception as e:
                _report(f"evaluation {name}: {e!r}")
            finally:
                self.queue.task_done()

    def submit(self, name: str, job: Callable[[], None]) -> bool:
        try:
            self.queue.put_nowait((name, job))
            return True
        except queue.Full:
            _native._evaluation_dropped(name)
            return False

    def join(self) -> None:
        self.queue.join()


_pool_lock = threading.Lock()
_the_pool: _Pool | None = None


def _pool() -> _Pool:
    global _the_pool
    p = _the_pool
    if p is not None and p.pid == os.getpid():
        return p
    with _pool_lock:
        if _the_pool is None or _the_pool.pid != os.getpid():
            settings = _native.status().get("behaviour") or {}
            _the_pool = _Pool(
                int(settings.get("evaluation_workers", 2)), int(settings.get("evaluation_queue_size", 64))
            )
        return _the_pool


def _reset_pool() -> None:
    """Drops the pool so the next evaluation builds one with the active configuration."""
    global _the_pool
    with _pool_lock:
        old, _the_pool = _the_pool, None
    if old is not None and old.pid == os.getpid():
        for _ in old.workers:
            try:
                old.queue.put_nowait(None)
            except queue.Full:
                pass


def register_evaluator(name: str, evaluator: Evaluator, *, sample_rate: float = 1.0) -> None:
    """Registers an evaluator (a judge model, a factual-consistency check, any function of an
    ``EvaluationSample``; coroutine functions too) that ``evaluate`` runs on a share
    ``sample_rate`` of the outputs, on the evaluation pool: never on the request path, dropped and
    counted (``fivelens.evaluation.dropped``) when the pool is saturated. Its result becomes a
    ``gen_ai.evaluation.result`` record attached to the judged span. Label results
    ``hallucinated`` to feed ``fivelens.evaluation.hallucination_rate``."""
    if not callable(evaluator):
        raise TypeError(f"evaluator: expected a callable, got {type(evaluator).__name__}")
    _evaluators[str(name)] = _Registered(str(name), evaluator, max(0.0, min(1.0, float(sample_rate))))


def unregister_evaluator(name: str) -> None:
    """Removes an evaluator."""
    _evaluators.pop(str(name), None)


def _result_of(value: Any) -> EvaluationResult:
    if isinstance(value, EvaluationResult):
        return value
    if isinstance(value, bool):
        return EvaluationResult(score=1.0 if value else 0.0, label="pass" if value else "fail")
    if isinstance(value, int | float):
        return EvaluationResult(score=float(value))
    if isinstance(value, Mapping):
        score = value.get("score")
        return EvaluationResult(
            score=None if score is None else float(score),
            label=None if value.get("label") is None else str(value["label"]),
            explanation=None if value.get("explanation") is None else str(value["explanation"]),
        )
    return EvaluationResult()


def evaluate(
    output: str | None = None,
    *,
    input: str | None = None,
    context: Any = None,
    span: Any = None,
    attributes: Mapping[str, Any] | None = None,
) -> int:
    """Hands ``output`` (with its ``input`` and retrieved ``context``) to every registered
    evaluator that samples it, on the evaluation pool, and returns at once with how many were
    queued. Results are attached to ``span`` (the current span when not given)."""
    try:
        judged = span if span is not None else _native.current_span()
        sample = EvaluationSample(
            output=output,
            input=input,
            context=context,
            trace_id=getattr(judged, "trace_id", None),
            span_id=getattr(judged, "span_id", None),
            attributes=dict(attributes or {}),
        )
        queued = 0
        for reg in list(_evaluators.values()):
            if reg.sample_rate < 1.0 and random.random() >= reg.sample_rate:
                continue

            def job(reg: _Registered = reg) -> None:
                try:
                    value = reg.fn(sample)
                    if inspect.isawaitable(value):
                        value = asyncio.run(_awaited(value))
                    r = _result_of(value)
                    record_evaluation(
                        reg.name, score_value=r.score, score_label=r.label, explanation=r.explanation, span=judged
                    )
                except Exception as e:
                    record_evaluation(reg.name, error_type=type(e).__name__, span=judged)

            if _pool().submit(reg.name, job):
                queued += 1
        return queued
    except Exception as e:
        _report(f"evaluate: {e!r}")
        return 0


async def _awaited(value: Any) -> Any:
    return await value


def wait_for_evaluations() -> None:
    """Blocks until the evaluations queued so far have run (for tests and short scripts, before
    ``flush``)."""
    p = _the_pool
    if p is not None and p.pid == os.getpid():
        p.join()


# ---- Time-To-Good-Output ---------------------------------------------------------------------


def record_outcome(traceparent: Any, outcome: str, *, session_id: str | None = None) -> bool:
    """What the user did with the response whose trace ``traceparent`` names (the header the
    response carried, echoed by the client): ``accepted``, ``regenerated``, ``edited`` or
    ``abandoned``. Recorded as a span ``outcome <outcome>`` in that trace; the core follows the
    session from its first submit to its first accepted output (``fivelens.ttgo``) and counts the
    regenerate rate. The session is the one of the response's trace when this process saw it,
    else ``session_id`` or the current ``fivelens.context``. Returns whether it was recorded."""
    o = str(outcome).lower()
    if o not in OUTCOMES:
        _report(f"record_outcome: unknown outcome {outcome!r} (accepted, regenerated, edited, abandoned)")
        return False
    parent, _trace_id, _span_id = _as_parent(traceparent)
    if parent is None:
        _report(f"record_outcome: expected a traceparent or a span, got {traceparent!r}")
        return False
    attrs: dict[str, Any] = {sc.FIVELENS_USER_OUTCOME: o}
    if session_id is not None:
        attrs[sc.SESSION_ID] = str(session_id)
    try:
        _native.start_span(f"outcome {o}", parent=parent, attributes=attrs).end()
        return True
    except Exception as e:
        _report(f"record_outcome: {e!r}")
        return False


__all__ = [
    "EvaluationResult",
    "EvaluationSample",
    "Feedback",
    "GuardrailCheck",
    "check_drift",
    "evaluate",
    "feedback",
    "guardrail",
    "record_confidence",
    "record_intent",
    "record_outcome",
    "record_rerank",
    "register_evaluator",
    "register_golden",
    "set_embedder",
    "unregister_evaluator",
    "wait_for_evaluations",
]
