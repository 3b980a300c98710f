"""PII redaction: the ``redact`` API, its configuration, and the end-to-end guarantee that labelled
PII sent through an instrumented agent reaches neither the OTLP receiver nor the local store."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool

import fivelens
from conftest import REPO, Receiver

DATA = REPO / "tests" / "data" / "pii"


def labelled_rows(limit: int, max_len: int = 180) -> list[dict[str, Any]]:
    """PII rows of both labelled sets whose text the fake model can echo whole."""
    rows: list[dict[str, Any]] = []
    for name in ("pii-dev.jsonl", "pii-own.jsonl"):
        for line in (DATA / name).read_text().splitlines():
            row = json.loads(line)
            if row["kind"] == "pii" and len(row["text"]) <= max_len:
                rows.append(row)
    # Alternate the sets and spread over the types.
    rows.sort(key=lambda r: (r["entities"][0]["type"], len(r["text"])))
    return rows[:: max(1, len(rows) // limit)][:limit]


def values(row: dict[str, Any]) -> list[str]:
    return [row["text"][e["start"] : e["end"]] for e in row["entities"]]


# ---- the API ---------------------------------------------------------------------------------


def test_redact_returns_placeholders_and_code_point_offsets() -> None:
    text = "é😀 write to ana.silva@example.com or call +44 20 7946 0958"
    result = fivelens.redact(text)
    assert result.text == "é😀 write to <EMAIL> or call <PHONE>"
    assert [(e.type, text[e.start : e.end]) for e in result.entities] == [
        ("EMAIL", "ana.silva@example.com"),
        ("PHONE", "+44 20 7946 0958"),
    ]
    # Lone surrogates and empty strings are fine; non-strings are the caller's error.
    assert fivelens.redact("\ud800 a@b.io").entities[0].start == 2
    assert fivelens.redact("") == ("", [])
    with pytest.raises(TypeError, match="text: expected a string"):
        fivelens.redact(b"a@b.io")  # type: ignore[arg-type]


def test_redact_follows_the_configuration() -> None:
    fivelens.instrument(
        store="off",
        redact_actions={"email": "indexed", "SECRET": "remove", "*": "hash"},
        redact_rules=[{"name": "EMPLOYEE_ID", "pattern": r"\bEMP-(?P<value>\d{6})\b"}],
        redact_deny=["Project Nightingale"],
        redact_allow=["support@example.com", r"/.*@fivelens\.dev/"],
    )
    text = (
        "a@b.io b@c.io a@b.io support@example.com ops@fivelens.dev EMP-123456 Project Nightingale"
        " password: S3cr3t!! 4111111111111111"
    )
    out = fivelens.redact(text).text
    expected = "<EMAIL_1> <EMAIL_2> <EMAIL_1> support@example.com ops@fivelens.dev EMP-<EMPLOYEE_ID:"
    assert out.startswith(expected), out
    assert "<DENIED:" in out and "password: " in out and "S3cr3t!!" not in out and "4111111111111111" not in out
    # The keyed hash is the one user ids get.
    card_hash = fivelens._native.hash_user_id("4111111111111111")
    assert out.endswith(f"<CREDIT_CARD:{card_hash}>"), out


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"redact_types": ["NAME"]}, "redact_types"),
        ({"redact_rules": [{"name": "lower", "pattern": "x"}]}, "redact_rules"),
        ({"redact_rules": [{"name": "X", "pattern": "("}]}, "redact_rules"),
        ({"redact_rules": [{"name": "X", "pattern": "a*"}]}, "redact_rules"),
        ({"redact_actions": {"EMAIL": "shred"}}, "redact_actions"),
        ({"redact_deny": ["/(/"]}, "redact_deny"),
    ],
)
def test_broken_redaction_config_is_a_clear_error_at_instrument(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        fivelens.instrument(store="off", **options)


def test_redact_types_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIVELENS_REDACT_TYPES", "email")
    fivelens.instrument(store="off")
    assert fivelens.redact("a@b.io 4111111111111111").text == "<EMAIL> 4111111111111111"


# ---- end to end ------------------------------------------------------------------------------


@tool
def lookup(query: str) -> str:
    """Look a customer up."""
    return LOOKUP_RESULT


@tool
def charge(query: str) -> str:
    """Charge a customer."""
    raise ValueError(f"card {FAILING_CARD} declined for {FAILING_EMAIL}")


LOOKUP_RESULT = (
    "Customer record: IBAN DE89 3704 0044 0532 0130 00, SSN 402-33-6895,"
    " key sk-proj-nf1NxhbXHK4YfbAzKbQPypiNa95V0Ex3Sk2z8LJy8iA0dDwM"
)
FAILING_CARD = "5555 5555 5555 4444"
FAILING_EMAIL = "billing.owner@example.org"
TOOL_VALUES = [
    "DE89 3704 0044 0532 0130 00",
    "402-33-6895",
    "sk-proj-nf1NxhbXHK4YfbAzKbQPypiNa95V0Ex3Sk2z8LJy8iA0dDwM",
    FAILING_CARD,
    FAILING_EMAIL,
]


def everything_in_the_store(path: Path) -> str:
    with sqlite3.connect(path) as db:
        texts: list[str] = []
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in db.execute(f"SELECT * FROM {table}"):
                texts.extend(str(v) for v in row if v is not None)
        return "\n".join(texts)


def test_labelled_pii_through_an_agent_reaches_neither_the_receiver_nor_the_store(
    llm_server: Any, receiver: Receiver, tmp_path: Path
) -> None:
    from langchain.agents import create_agent
    from langchain_openai import ChatOpenAI

    store = tmp_path / "traces.db"
    fivelens.instrument(
        otlp_endpoint=receiver.endpoint,
        store="on",
        store_path=str(store),
        service_name="pii-e2e",
        metrics_exporter="otlp",
    )
    rows = labelled_rows(40)
    sent = [v for row in rows for v in values(row)] + TOOL_VALUES
    assert len({e["type"] for row in rows for e in row["entities"]}) == 8

    # The model calls a tool once (the fake server's tools-once), then streams back an echo of
    # the user's message word by word: values split across chunks must not survive assembly.
    model = ChatOpenAI(
        model="gpt-4o",
        base_url=llm_server.url + "/v1",
        api_key="test-key",  # type: ignore[arg-type]
        max_retries=0,
        streaming=True,
        default_headers={"x-fake-scenario": "tools-once"},
    )
    agent = create_agent(model, [lookup], name="support")
    for row in rows:
        result = agent.invoke({"messages": [HumanMessage(row["text"])]})
        # The app itself sees its data unchanged.
        assert result["messages"][-1].content == "echo: " + " ".join(row["text"].split())
    failing = create_agent(model, [charge], name="billing")
    with pytest.raises(ValueError, match="declined"):
        failing.invoke({"messages": [HumanMessage("charge me please")]})
    assert fivelens.flush(20.0)

    spans = receiver.spans()
    exported = json.dumps(spans)
    stored = everything_in_the_store(store)
    leaked = [v for v in sent if v in exported or v in stored]
    assert leaked == []
    # Content was captured, redacted, not dropped.
    assert "<EMAIL>" in exported and "<CREDIT_CARD>" in exported and "<IBAN>" in exported
    assert "<EMAIL>" in stored
    # The tool's exception message (an event) and its result were redacted too.
    assert "declined for <EMAIL>" in exported

    per_type: dict[str, int] = {}
    for s in spans:
        for k, v in s["attributes"].items():
            if k.startswith("fivelens.redaction."):
                per_type[k.removeprefix("fivelens.redaction.").upper()] = per_type.get(k, 0) + v
    assert set(per_type) >= {"EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS", "SECRET", "JWT"}

    with urllib.request.urlopen(receiver.endpoint + "/metrics", timeout=10) as resp:
        points = json.loads(resp.read())
    pii = [p for p in points if p["name"] == "fivelens.pii.entities"]
    assert pii, "no fivelens.pii.entities metric"
    last = max(p["time_unix_nano"] for p in pii)
    by_type = {p["attributes"]["fivelens.pii.type"]: p["value"] for p in pii if p["time_unix_nano"] == last}
    assert by_type.keys() == per_type.keys()

    stats = fivelens.status()["redaction"]
    assert stats["values"] >= len(sent) and stats["texts"] > 0 and stats["ns"] > 0


def test_redaction_off_keeps_content_as_sent(llm_server: Any) -> None:
    import openai

    fivelens.instrument(testing=True, store="off", redact=False)
    client = openai.OpenAI(base_url=llm_server.url + "/v1", api_key="k", max_retries=0)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "mail a@b.io"}])
    assert fivelens.flush(5.0)
    span = fivelens._native.finished_spans()[-1]
    assert "a@b.io" in span["attributes"]["gen_ai.input.messages"]
    assert not any(k.startswith("fivelens.redaction.") for k in span["attributes"])
