"""The context window: the synchronous check, context tiers, retrieval spans and verification loops.

Every model call's context breakdown (tokens per section, fill, turns, the alert) is computed by
the core's processing thread from what the integrations hand over; nothing here runs on a model
call's path. ``context_window`` is the one exception, on purpose: an agent calls it before
sending, to summarise or trim in time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from . import _native
from . import semconv as sc

SectionValue = str | int | Sequence[Any] | Mapping[str, Any]
"""What a section or a tier may be: its text, a list of texts or chat messages, or a token count."""


@dataclass(frozen=True)
class ContextWindow:
    """What ``context_window`` returns."""

    model: str
    sections: dict[str, int]
    """Tokens per section, in the order given."""
    tokens: int
    """The sum of the sections."""
    limit: int | None
    """The model's context window (``None`` when the limit table does not know the model)."""
    max_output_tokens: int | None
    """The model's largest output, when known."""
    fill: float | None
    """``tokens / limit`` (0.8 is 80%)."""
    remaining: int | None
    """Tokens left in the window."""
    threshold: float
    """The alert threshold of the active configuration (``context_alert_threshold``)."""
    over_threshold: bool | None
    """Whether ``fill`` reaches the threshold: time to summarise or trim."""


def context_window(model: str, sections: Mapping[str, SectionValue], *, provider: str | None = None) -> ContextWindow:
    """Counts ``sections`` (section name to text, a list of texts or chat messages, or a token
    count) as ``model`` would and returns the tokens per section, the model's window, the fill
    and whether the alert threshold is reached, at once, on the calling thread.

        check = fivelens.context_window("gpt-4o", {"system": system, "history": messages, "user_input": question})
        if check.over_threshold:
            messages = summarise(messages)
    """
    if not isinstance(model, str):
        raise TypeError(f"model: expected a string, got {type(model).__name__}")
    if not isinstance(sections, Mapping):
        raise TypeError(f"sections: expected a mapping of section name to text, got {type(sections).__name__}")
    out = _native.context_window(model, dict(sections), provider=provider)
    return ContextWindow(
        model=out["model"],
        sections={str(k): int(v) for k, v in out["sections"].items()},
        tokens=int(out["tokens"]),
        limit=out["limit"],
        max_output_tokens=out["max_output_tokens"],
        fill=out["fill"],
        remaining=out["remaining"],
        threshold=float(out["threshold"]),
        over_threshold=out["over_threshold"],
    )


def context_tiers(tiers: Mapping[str, SectionValue]) -> _native.ContextScope:
    """Declares what each context tier contributed to the model calls made inside the block
    (tier 1 open files, tier 2 similarity hits, tier 3 symbol dependencies, tier 4 signatures,
    or any names): each call gets ``fivelens.context.tier_tokens.<tier>`` and the
    ``fivelens.context_window.tokens_by_tier`` histogram, counted off the calling thread. A
    context manager and a decorator.

        with fivelens.context_tiers({"open_files": files, "similar": hits, "signatures": sigs}):
            client.chat.completions.create(...)
    """
    if not isinstance(tiers, Mapping):
        raise TypeError(f"tiers: expected a mapping of tier name to text, got {type(tiers).__name__}")
    return _native.context_tiers(dict(tiers))


class Retrieval:
    """The span of one retrieval (``retrieval``): what it scanned, kept and found in a cache."""

    __slots__ = ("span",)

    def __init__(self, span: _native.Span) -> None:
        self.span = span

    def record(
        self,
        *,
        scanned: int | None = None,
        selected: int | None = None,
        cache_hits: int | None = None,
        documents: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Files or documents looked at (``scanned``) and kept (``selected``), hits answered from
        a cache, and the documents kept (``{"id", "score"}`` each; content, so redacted and
        dropped when capture is off)."""
        for key, value in (
            (sc.FIVELENS_RETRIEVAL_SCANNED, scanned),
            (sc.FIVELENS_RETRIEVAL_SELECTED, selected),
            (sc.FIVELENS_RETRIEVAL_CACHE_HITS, cache_hits),
        ):
            if value is not None:
                self.span.set_attribute(key, int(value))
        if documents is not None:
            docs = list(documents)
            self.span.set_attribute(sc.GEN_AI_RETRIEVAL_DOCUMENTS, [dict(d) for d in docs])
            if selected is None:
                self.span.set_attribute(sc.FIVELENS_RETRIEVAL_SELECTED, len(docs))


@contextmanager
def retrieval(
    data_source: str | None = None,
    *,
    tier: str | None = None,
    top_k: int | None = None,
    similarity_threshold: float | None = None,
    query: str | None = None,
) -> Iterator[Retrieval]:
    """A retrieval span (the GenAI conventions' ``retrieval`` operation, named
    ``retrieval <data_source>``): its duration is the retrieval's latency; ``record(...)`` adds
    what was scanned, selected and served from a cache. ``tier`` names the context tier it feeds.

        with fivelens.retrieval("code-index", tier="similar", top_k=8, similarity_threshold=0.75) as r:
            hits = index.search(query)
            r.record(scanned=index.size, selected=len(hits), cache_hits=cache.hits)
    """
    attributes: dict[str, Any] = {sc.GEN_AI_OPERATION_NAME: "retrieval"}
    if data_source:
        attributes[sc.GEN_AI_DATA_SOURCE_ID] = data_source
    if tier:
        attributes[sc.FIVELENS_CONTEXT_TIER] = tier
    if top_k is not None:
        attributes[sc.GEN_AI_RETRIEVAL_TOP_K] = int(top_k)
    if similarity_threshold is not None:
        attributes[sc.FIVELENS_RETRIEVAL_SIMILARITY_THRESHOLD] = float(similarity_threshold)
    if query is not None:
        attributes[sc.GEN_AI_RETRIEVAL_QUERY_TEXT] = query
    name = f"retrieval {data_source}" if data_source else "retrieval"
    with _native.span(name, kind="client", attributes=attributes) as span:
        yield Retrieval(span)


class Attempt:
    """One attempt of a verification loop: an edit, then the check (tests) it must pass."""

    __slots__ = ("_passed", "number", "span")

    def __init__(self, span: _native.Span, number: int) -> None:
        self.span = span
        self.number = number
        self._passed: bool | None = None

    def passed(self, ok: bool = True) -> None:
        """Marks the attempt passed (or failed, with ``False``)."""
        self._passed = bool(ok)


class Verification:
    """A verification loop (``verification``): attempts until the check passes."""

    __slots__ = ("attempts", "name", "span", "succeeded")

    def __init__(self, span: _native.Span, name: str) -> None:
        self.span = span
        self.name = name
        self.attempts = 0
        self.succeeded = False

    @contextmanager
    def attempt(self) -> Iterator[Attempt]:
        """One attempt, as a child span ``verify_attempt <name>`` with its number; it failed
        unless ``passed()`` was called (an exception fails it too, and is re-raised)."""
        self.attempts += 1
        number = self.attempts
        with _native.span(f"verify_attempt {self.name}", attributes={sc.FIVELENS_VERIFICATION_ATTEMPT: number}) as span:
            attempt = Attempt(span, number)
            try:
                yield attempt
            finally:
                ok = bool(attempt._passed)
                span.set_attribute(sc.FIVELENS_VERIFICATION_PASSED, ok)
                if ok:
                    self.succeeded = True
                self.span.set_attribute(sc.FIVELENS_VERIFICATION_ATTEMPTS, self.attempts)
                self.span.set_attribute(sc.FIVELENS_VERIFICATION_PASSED, self.succeeded)


@contextmanager
def verification(name: str) -> Iterator[Verification]:
    """The verification loop of an agent (edit, run the tests, until they pass) as a span
    ``verify <name>`` whose attempts are child spans; the loop's span gets the attempt count and
    whether it passed.

        with fivelens.verification("fix failing test") as loop:
            while loop.attempts < 5 and not loop.succeeded:
                with loop.attempt() as attempt:
                    apply_edit()
                    attempt.passed(run_tests())
    """
    with _native.span(f"verify {name}") as span:
        loop = Verification(span, name)
        span.set_attribute(sc.FIVELENS_VERIFICATION_ATTEMPTS, 0)
        span.set_attribute(sc.FIVELENS_VERIFICATION_PASSED, False)
        yield loop


__all__ = [
    "Attempt",
    "ContextWindow",
    "Retrieval",
    "SectionValue",
    "Verification",
    "context_tiers",
    "context_window",
    "retrieval",
    "verification",
]
