"""PII redaction from Python: ``fivelens.redact`` against Presidio's analyzer with its pattern
recognizers only, in the same run, on one core.

Speed: both sides on the same 1 KB texts, built like ``benches/benches/redact.rs`` builds them (the
development set's lines joined with a space, in file order, until a text reaches 1,024 bytes;
the remainder is dropped): PII-dense, the worst case. fivelens is timed through ``fivelens.redact``
(the Python call, the detection and the replacement, the redacted text and the entities returned);
Presidio through ``AnalyzerEngine.analyze`` (detection only), once with every recognizer it loads
for English and once limited to the entities that correspond to ours (fewer recognizers run).
Rounds rotate the order of the sides; each side's figure is its median round.

Presidio runs on a blank spaCy pipeline (``spacy.blank("en")``: a tokenizer, no model, so its NER
recognizer finds nothing and the pattern recognizers do the work); no spaCy model is downloaded.
tldextract (Presidio's e-mail validation) is kept to its bundled public suffix list, offline.

Quality: per-type recall and precision on both labelled sets (``tests/data/pii/``), scored
type-agnostically as ``core/src/redact.rs``'s quality test does: a labelled value is caught when at
least 90% of its characters are inside detected spans (of any type); a detected span is correct
when it overlaps a labelled value (of any type); plus the share of negative texts with any
detection. The same for Presidio, its entity names mapped to ours where they correspond; its other
entities are counted apart. Usage: python redact.py [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "pii"
SETS = ("pii-dev.jsonl", "pii-own.jsonl")
TYPES = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS", "SECRET", "JWT")
# Presidio's entity names for ours (it has no SECRET or JWT).
PRESIDIO_TO_OURS = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
}

Span = tuple[int, int, str]  # start, end (code points, end exclusive), type
Finder = Callable[[str], list[Span]]


def rows(name: str) -> list[dict[str, Any]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def kb_texts() -> list[str]:
    """The development set's lines joined until each text reaches 1,024 bytes (as redact.rs)."""
    out: list[str] = []
    cur = ""
    for row in rows("pii-dev.jsonl"):
        if cur:
            cur += " "
        cur += row["text"]
        if len(cur.encode("utf-8")) >= 1024:
            out.append(cur)
            cur = ""
    return out


def pin_one_core() -> int:
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def presidio_engine() -> Any:
    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""  # read when tldextract is imported
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class BlankSpacyNlpEngine(SpacyNlpEngine):  # type: ignore[misc]
        """Presidio's spaCy engine on blank pipelines: tokenization only, no model to load."""

        def load(self) -> None:
            self.nlp = {m["lang_code"]: spacy.blank(m["lang_code"]) for m in self.models}

    nlp_engine = BlankSpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    return AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])


def finders() -> tuple[Finder, Finder, Finder, Finder, list[str]]:
    import fivelens
    from fivelens import _native

    def ours(text: str) -> list[Span]:
        return [(e.start, e.end, e.type) for e in fivelens.redact(text).entities]

    def ours_native(text: str) -> list[Span]:
        return _native.redact(text)[1]  # type: ignore[no-any-return]

    engine = presidio_engine()
    mapped = list(PRESIDIO_TO_OURS)

    def presidio_all(text: str) -> list[Span]:
        return [(r.start, r.end, r.entity_type) for r in engine.analyze(text=text, language="en")]

    def presidio_mapped(text: str) -> list[Span]:
        return [(r.start, r.end, r.entity_type) for r in engine.analyze(text=text, language="en", entities=mapped)]

    recognizers = sorted(type(r).__name__ for r in engine.registry.get_recognizers(language="en", all_fields=True))
    return ours, ours_native, presidio_all, presidio_mapped, recognizers


# ---- quality ----------------------------------------------------------------------------------


def score(data: list[dict[str, Any]], find: Finder, rename: dict[str, str] | None = None) -> dict[str, Any]:
    """Per-type counts, type-agnostic matching (as ``core/src/redact.rs``'s quality test).
    ``rename`` maps a detector's type names to ours; detections of other types are reported under
    ``other`` and take part in neither the per-type rows nor the negatives."""
    table: dict[str, list[int]] = {}  # type -> labelled, caught, detected, correct
    other: dict[str, list[int]] = {}  # unmapped type -> detected, overlapping a label, on negatives
    negatives = flagged = flagged_any = 0
    for row in data:
        text = row["text"]
        spans: list[Span] = []
        found = find(text)
        for s, e, k in found:
            if rename is None:
                spans.append((s, e, k))
            elif k in rename:
                spans.append((s, e, rename[k]))
            else:
                o = other.setdefault(k, [0, 0, 0])
                o[0] += 1
                o[1] += any(s < le and ls < e for ls, le in ((x["start"], x["end"]) for x in row["entities"]))
                o[2] += row["kind"] == "negative"
        if row["kind"] == "negative":
            negatives += 1
            flagged += bool(spans)
            flagged_any += bool(found)
        labels = [(x["start"], x["end"], x["type"]) for x in row["entities"]]
        for ls, le, lt in labels:
            covered = sum(1 for i in range(ls, le) if any(s <= i < e for s, e, _ in spans))
            t = table.setdefault(lt, [0, 0, 0, 0])
            t[0] += 1
            t[1] += covered * 10 >= (le - ls) * 9
        for s, e, k in spans:
            t = table.setdefault(k, [0, 0, 0, 0])
            t[2] += 1
            t[3] += any(s < le and ls < e for ls, le, _ in labels)
    types = {
        k: {
            "labelled": v[0],
            "recall": v[1] / v[0] if v[0] else None,
            "detected": v[2],
            "precision": v[3] / v[2] if v[2] else None,
        }
        for k, v in sorted(table.items(), key=lambda kv: TYPES.index(kv[0]) if kv[0] in TYPES else len(TYPES))
    }
    out: dict[str, Any] = {"types": types, "negatives": negatives, "negatives_flagged": flagged}
    if rename is not None:
        out["negatives_flagged_any_entity"] = flagged_any
        out["other_entities"] = {
            k: {"detected": v[0], "overlapping_a_label": v[1], "on_negatives": v[2]} for k, v in sorted(other.items())
        }
    return out


def fmt(x: float | None) -> str:
    return "    -" if x is None else f"{x:.4f}"


def print_quality(name: str, side: str, q: dict[str, Any]) -> None:
    print(f"{name}, {side}: type          labelled  recall  detected  precision")
    for k, v in q["types"].items():
        print(f"  {k:22} {v['labelled']:8}  {fmt(v['recall'])}  {v['detected']:8}  {fmt(v['precision'])}")
    print(f"  negatives with a detection: {q['negatives_flagged']}/{q['negatives']}")
    if "negatives_flagged_any_entity" in q:
        print(f"  negatives with a detection of any entity: {q['negatives_flagged_any_entity']}/{q['negatives']}")
    for k, v in q.get("other_entities", {}).items():
        print(
            f"  (other) {k:22} detected {v['detected']}, overlapping a label {v['overlapping_a_label']}, "
            f"on negatives {v['on_negatives']}"
        )


# ---- speed ------------------------------------------------------------------------------------


def seconds_per_pass(find: Finder, texts: Iterable[str], passes: int) -> float:
    texts = list(texts)
    t0 = time.perf_counter_ns()
    for _ in range(passes):
        for t in texts:
            find(t)
    return (time.perf_counter_ns() - t0) / 1e9 / passes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cpu = pin_one_core()
    t0 = time.perf_counter()
    ours, ours_native, presidio_all, presidio_mapped, recognizers = finders()
    presidio_all("warm up a@b.io 4111 1111 1111 1111")
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours("warm up a@b.io 4111 1111 1111 1111")
    first_s = time.perf_counter() - t0

    texts = kb_texts()
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    # Both sides find entities in every text (the check that they run on the same input).
    found = {"fivelens": sum(map(len, map(ours, texts))), "presidio": sum(map(len, map(presidio_all, texts)))}
    sides: dict[str, tuple[Finder, int]] = {
        "fivelens": (ours, 300),
        # The native call alone, without the wrapper's named tuples: what the wrapper costs.
        "fivelens_native_call": (ours_native, 300),
        "presidio": (presidio_all, 1),
        "presidio_mapped_entities": (presidio_mapped, 1),
    }
    samples: dict[str, list[float]] = {k: [] for k in sides}
    for r in range(args.rounds):
        order = list(sides)[r % len(sides) :] + list(sides)[: r % len(sides)]
        for k in order:
            fn, passes = sides[k]
            samples[k].append(seconds_per_pass(fn, texts, passes))
    speed: dict[str, Any] = {}
    for k, s in samples.items():
        sec = statistics.median(s)
        speed[k] = {
            "us_per_kb": sec * 1e6 / (nbytes / 1024),
            "mb_per_s": nbytes / sec / 1e6,
            "rounds_us_per_kb": [x * 1e6 / (nbytes / 1024) for x in s],
        }
    for k in ("presidio", "presidio_mapped_entities"):
        speed[k]["throughput_ratio_fivelens_over_this"] = speed["fivelens"]["mb_per_s"] / speed[k]["mb_per_s"]

    quality: dict[str, Any] = {}
    for name in SETS:
        data = rows(name)
        quality[name] = {"fivelens": score(data, ours), "presidio": score(data, presidio_all, PRESIDIO_TO_OURS)}

    result = {
        "cpu": cpu,
        "texts": len(texts),
        "bytes": nbytes,
        "entities_found": found,
        "presidio_setup_s": setup_s,
        "fivelens_first_call_s": first_s,
        "presidio_recognizers": recognizers,
        "speed": speed,
        "quality": quality,
    }
    print(f"{len(texts)} texts, {nbytes} bytes, on CPU {cpu}; entities found: {found}")
    print(f"Presidio engine built and first call: {setup_s:.2f} s; fivelens first call: {first_s * 1e3:.1f} ms")
    print(f"Presidio recognizers for en: {', '.join(recognizers)}")
    for k, v in speed.items():
        ratio = v.get("throughput_ratio_fivelens_over_this")
        extra = f"  fivelens/this {ratio:.0f}x" if ratio else ""
        print(f"{k:26} {v['us_per_kb']:10.2f} us/KB {v['mb_per_s']:9.3f} MB/s{extra}")
    for name, q in quality.items():
        for side, v in q.items():
            print_quality(name, side, v)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
