"""deploy/clickhouse/ on a real ClickHouse engine (chDB embeds one): the schema and views are
created with the hot/warm/cold storage policy of storage.xml, spans, metrics and log records that
fivelens exported (to the loopback OTLP receiver) are loaded in the Collector ClickHouse exporter's
column layout, every saved query in queries/ runs and its answer is checked against figures
computed here from the exported data, and the TTL moves and delete are applied."""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chdb
import pytest

from conftest import DEPLOY, Receiver, app_env, run_workload

CLICKHOUSE = DEPLOY / "clickhouse"
KINDS = ["Unspecified", "Internal", "Server", "Client", "Producer", "Consumer"]
STATUS = ["Unset", "Ok", "Error"]
DAY_NS = 86_400 * 10**9


@pytest.fixture(scope="module")
def exported() -> dict[str, list[dict[str, Any]]]:
    """Two rounds of the scripted workload, as fivelens exported them over OTLP."""
    receiver = Receiver()
    try:
        run_workload(
            app_env(
                OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
                OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=prod",
            ),
            "--rounds",
            "2",
        )
        data = {what: receiver.get(what) for what in ("spans", "metrics", "logs")}
    finally:
        receiver.stop()
    assert data["spans"] and data["metrics"] and data["logs"]
    return data


def statements(path: Path) -> list[str]:
    """The statements of a .sql file (full-line `--` comments dropped, split at `;` line ends)."""
    text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*\n", text + "\n") if s.strip()]


class ClickHouse:
    def __init__(self, tmp: Path) -> None:
        # storage.xml as shipped, with its disks under tmp. move_factor (move parts down early when a
        # volume is short of space) is set to 0: this machine's disk may be over 90% full, which
        # would move every part down at once and hide what the TTL moves do.
        config = (CLICKHOUSE / "storage.xml").read_text()
        config = config.replace("/var/lib/clickhouse/disks/", f"{tmp}/disks/")
        config = config.replace("<move_factor>0.1</move_factor>", "<move_factor>0</move_factor>")
        assert f"{tmp}/disks/hot/" in config and "<move_factor>0</move_factor>" in config
        (tmp / "storage.xml").write_text(config)
        self.conn = chdb.connect(f"file:{tmp}/db?config-file={tmp}/storage.xml")
        self.cur = self.conn.cursor()
        self.tmp = tmp

    def execute(self, sql: str) -> None:
        self.cur.execute(sql)

    def rows(self, sql: str) -> list[dict[str, Any]]:
        self.cur.execute(sql)
        names = [d[0] for d in self.cur.description]
        return [dict(zip(names, row, strict=True)) for row in self.cur.fetchall()]

    def insert_json(self, table: str, columns: str, structure: str, rows: list[dict[str, Any]]) -> None:
        path = self.tmp / f"{table}.{len(list(self.tmp.glob(table + '.*')))}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        names = ", ".join(output_names(columns))
        self.execute(
            f"INSERT INTO {table} ({names}) SELECT {columns} FROM file('{path}', 'JSONEachRow', '{structure}')"
        )


def split_top_level(text: str) -> list[str]:
    """The comma-separated items of an SQL list (commas inside brackets do not split)."""
    items, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            items.append(current.strip())
            current = ""
            continue
        depth += (ch in "([") - (ch in ")]")
        current += ch
    items.append(current.strip())
    return items


def output_names(columns: str) -> list[str]:
    """The names a SELECT list produces: each item's alias, or the item itself."""
    return [re.split(r"\s+AS\s+", item)[-1] for item in split_top_level(columns)]


@pytest.fixture
def ch(tmp_path: Path) -> Iterator[ClickHouse]:
    db = ClickHouse(tmp_path)
    for file in ("schema.sql", "views.sql"):
        for sql in statements(CLICKHOUSE / file):
            db.execute(sql)
    yield db
    db.conn.close()


def as_string(value: Any) -> str:
    """An attribute value as the ClickHouse exporter writes it into a Map(String, String)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def strmap(attrs: dict[str, Any]) -> dict[str, str]:
    return {k: as_string(v) for k, v in attrs.items()}


SPAN_STRUCTURE = (
    "ts Int64, TraceId String, SpanId String, ParentSpanId String, SpanName String, SpanKind String, "
    "ServiceName String, ResourceAttributes Map(String, String), ScopeName String, "
    "SpanAttributes Map(String, String), Duration UInt64, StatusCode String, StatusMessage String, "
    "ev_ts Array(Int64), ev_name Array(String), ev_attrs Array(Map(String, String))"
)
SPAN_COLUMNS = (
    "fromUnixTimestamp64Nano(ts) AS Timestamp, TraceId, SpanId, ParentSpanId, '' AS TraceState, SpanName, "
    "SpanKind, ServiceName, ResourceAttributes, ScopeName, '' AS ScopeVersion, SpanAttributes, Duration, "
    "StatusCode, StatusMessage, arrayMap(x -> fromUnixTimestamp64Nano(x), ev_ts) AS `Events.Timestamp`, "
    "ev_name AS `Events.Name`, ev_attrs AS `Events.Attributes`, [] AS `Links.TraceId`, [] AS `Links.SpanId`, "
    "[] AS `Links.TraceState`, [] AS `Links.Attributes`"
)


def span_row(s: dict[str, Any], shift_ns: int = 0) -> dict[str, Any]:
    return {
        "ts": s["start_time_unix_nano"] - shift_ns,
        "TraceId": s["trace_id"],
        "SpanId": s["span_id"] if not shift_ns else f"{s['span_id'][:8]}{shift_ns // DAY_NS:08x}",
        "ParentSpanId": s["parent_span_id"],
        "SpanName": s["name"],
        "SpanKind": KINDS[s["kind"]],
        "ServiceName": s["resource"].get("service.name", ""),
        "ResourceAttributes": strmap(s["resource"]),
        "ScopeName": s["scope"],
        "SpanAttributes": strmap(s["attributes"]),
        "Duration": s["end_time_unix_nano"] - s["start_time_unix_nano"],
        "StatusCode": STATUS[s["status_code"]],
        "StatusMessage": s["status_message"],
        "ev_ts": [e["time_unix_nano"] - shift_ns for e in s["events"]],
        "ev_name": [e["name"] for e in s["events"]],
        "ev_attrs": [strmap(e["attributes"]) for e in s["events"]],
    }


def load(db: ClickHouse, data: dict[str, list[dict[str, Any]]]) -> None:
    """What the Collector's ClickHouse exporter would write for these OTLP data."""
    db.insert_json("otel_traces", SPAN_COLUMNS, SPAN_STRUCTURE, [span_row(s) for s in data["spans"]])
    start = min(s["start_time_unix_nano"] for s in data["spans"])
    common = {"ResourceAttributes": {}, "ServiceName": "", "MetricName": "", "MetricUnit": "", "Attributes": {}}
    sums, histograms = [], []
    for p in data["metrics"]:
        row = dict(
            common,
            ResourceAttributes=strmap(p["resource"]),
            ServiceName=p["resource"].get("service.name", ""),
            MetricName=p["name"],
            MetricUnit=p["unit"],
            Attributes=strmap(p["attributes"]),
            start=start,
            ts=p["time_unix_nano"],
            temporality=p["temporality"],
        )
        if p["kind"] == "sum":
            sums.append(dict(row, Value=p["value"], IsMonotonic=p["monotonic"]))
        elif p["kind"] == "histogram":
            histograms.append(
                dict(
                    row,
                    Count=p["count"],
                    Sum=p["sum"],
                    BucketCounts=p["bucket_counts"],
                    ExplicitBounds=p["explicit_bounds"],
                )
            )
    point = (
        "ResourceAttributes Map(String, String), ServiceName String, MetricName String, MetricUnit String, "
        "Attributes Map(String, String), start Int64, ts Int64, temporality Int32"
    )
    point_columns = (
        "ResourceAttributes, ServiceName, MetricName, MetricUnit, Attributes, "
        "fromUnixTimestamp64Nano(start) AS StartTimeUnix, fromUnixTimestamp64Nano(ts) AS TimeUnix, "
        "temporality AS AggregationTemporality"
    )
    db.insert_json(
        "otel_metrics_sum",
        "ResourceAttributes, ServiceName, MetricName, MetricUnit, Attributes, fromUnixTimestamp64Nano(start) AS "
        "StartTimeUnix, fromUnixTimestamp64Nano(ts) AS TimeUnix, Value, temporality AS AggregationTemporality, "
        "IsMonotonic",
        point + ", Value Float64, IsMonotonic Bool",
        sums,
    )
    db.insert_json(
        "otel_metrics_histogram",
        point_columns + ", Count, Sum, BucketCounts, ExplicitBounds",
        point + ", Count UInt64, Sum Float64, BucketCounts Array(UInt64), ExplicitBounds Array(Float64)",
        histograms,
    )
    logs = [
        {
            "ts": r["time_unix_nano"] or r["observed_time_unix_nano"],
            "TraceId": r["trace_id"],
            "SpanId": r["span_id"],
            "SeverityText": r["severity_text"],
            "SeverityNumber": r["severity_number"],
            "ServiceName": r["resource"].get("service.name", ""),
            "Body": r["body"] if isinstance(r["body"], str) else json.dumps(r["body"]),
            "ResourceAttributes": strmap(r["resource"]),
            "ScopeName": r["scope"],
            "LogAttributes": strmap(
                dict(r["attributes"], **({"event.name": r["event_name"]} if r["event_name"] else {}))
            ),
        }
        for r in data["logs"]
    ]
    db.insert_json(
        "otel_logs",
        "fromUnixTimestamp64Nano(ts) AS Timestamp, TraceId, SpanId, SeverityText, SeverityNumber, ServiceName, Body, "
        "ResourceAttributes, ScopeName, LogAttributes",
        "ts Int64, TraceId String, SpanId String, SeverityText String, SeverityNumber UInt8, ServiceName String, "
        "Body String, ResourceAttributes Map(String, String), ScopeName String, LogAttributes Map(String, String)",
        logs,
    )


def model_calls(data: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [s for s in data["spans"] if "gen_ai.operation.name" in s["attributes"]]


def run_query(db: ClickHouse, name: str) -> list[dict[str, Any]]:
    (sql,) = statements(CLICKHOUSE / "queries" / name)
    return db.rows(sql)


def check_cost_by_stage(rows: list[dict[str, Any]], calls: list[dict[str, Any]]) -> None:
    expected: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
    for s in calls:
        a = s["attributes"]
        e = expected[a.get("fivelens.stage", "(none)")]
        e[0] += 1
        e[1] += a.get("gen_ai.usage.input_tokens", 0)
        e[2] += a.get("gen_ai.usage.output_tokens", 0)
        e[3] += a.get("fivelens.cost.usd", 0.0)
    total = sum(e[3] for e in expected.values())
    assert {r["stage"] for r in rows} == set(expected) == {"retrieval", "synthesis", "planning"}
    for r in rows:
        calls_, tin, tout, cost = expected[r["stage"]]
        assert (r["calls"], r["input_tokens"], r["output_tokens"]) == (calls_, tin, tout), r
        assert r["cost_usd"] == pytest.approx(cost, abs=1e-6), r
        assert r["share"] == pytest.approx(cost / total, abs=1e-4), r
    assert rows[0]["stage"] == "synthesis"  # gpt-4o with the long conversation costs most


def rank(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted values at rank ceil(q * n)."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def check_p99_latency_by_model(rows: list[dict[str, Any]], calls: list[dict[str, Any]]) -> None:
    durations: dict[str, list[float]] = defaultdict(list)
    for s in calls:
        durations[s["attributes"]["gen_ai.request.model"]].append(
            (s["end_time_unix_nano"] - s["start_time_unix_nano"]) / 1e6
        )
    assert {r["model"]: r["calls"] for r in rows} == {m: len(d) for m, d in durations.items()}
    for r in rows:
        d = sorted(durations[r["model"]])
        # t-digest is exact to within a neighbouring value at these sizes.
        assert rank(d, 0.4) - 0.01 <= r["p50_ms"] <= rank(d, 0.6) + 0.01, (r, d)
        assert rank(d, 0.95) - 0.01 <= r["p99_ms"] <= d[-1] + 0.01, (r, d)
    # The slow gpt-4o calls (120 ms) make its p99 the highest, and the first row.
    assert rows[0]["model"] == "gpt-4o" and rows[0]["p99_ms"] > 100


def check_finish_reason_share(rows: list[dict[str, Any]], calls: list[dict[str, Any]]) -> None:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for s in calls:
        reasons = s["attributes"].get("gen_ai.response.finish_reasons") or ["(none)"]
        counts[(s["attributes"]["gen_ai.request.model"], reasons[0])] += 1
    assert {(r["model"], r["finish_reason"]): r["calls"] for r in rows} == dict(counts)
    per_model: dict[str, int] = defaultdict(int)
    for (model, _), n in counts.items():
        per_model[model] += n
    for r in rows:
        assert r["share"] == pytest.approx(r["calls"] / per_model[r["model"]], abs=1e-4)
    alerts = {(r["model"], r["finish_reason"]) for r in rows if r["truncation_alert"]}
    assert alerts == {("gpt-4o", "length")}  # 1 in 14 of gpt-4o's calls; none of the others'


def check_context_fill_alerts(rows: list[dict[str, Any]], calls: list[dict[str, Any]]) -> None:
    alerted = [s for s in calls if s["attributes"].get("fivelens.context.alert")]
    assert len(alerted) == 2  # one per round's long conversation
    assert sorted(r["session"] for r in rows) == ["long-chat-0", "long-chat-1"]
    for r in rows:
        (span,) = [s for s in alerted if s["attributes"]["session.id"] == r["session"]]
        assert r["trace_id"] == span["trace_id"] and r["alert"]
        assert r["fill"] == pytest.approx(110_000 / 128_000, abs=1e-4)
        assert (r["input_tokens"], r["window"], r["turn"]) == (110_000, 128_000, 3)


def check_metrics_by_prompt_hash(rows: list[dict[str, Any]], calls: list[dict[str, Any]]) -> None:
    expected: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for s in calls:
        a = s["attributes"]
        e = expected[a["fivelens.prompt.hash"]]
        e[0] += a.get("gen_ai.usage.input_tokens", 0)
        e[1] += a.get("gen_ai.usage.output_tokens", 0)
        e[2] += a.get("fivelens.cost.usd", 0.0)
    assert len(expected) == 2  # two versions of the system prompt
    got = {r["prompt_hash"]: r for r in rows}
    assert set(got) == set(expected)
    for h, (tin, tout, cost) in expected.items():
        assert (got[h]["input_tokens"], got[h]["output_tokens"]) == (tin, tout), got[h]
        assert got[h]["cost_usd"] == pytest.approx(cost, abs=1e-6)


CHECKS = {
    "cost_by_stage.sql": check_cost_by_stage,
    "p99_latency_by_model.sql": check_p99_latency_by_model,
    "finish_reason_share.sql": check_finish_reason_share,
    "context_fill_alerts.sql": check_context_fill_alerts,
    "metrics_by_prompt_hash.sql": check_metrics_by_prompt_hash,
}


def test_every_saved_query_answers_from_exported_data(
    ch: ClickHouse, exported: dict[str, list[dict[str, Any]]]
) -> None:
    load(ch, exported)
    calls = model_calls(exported)
    assert ch.rows("SELECT count() AS n FROM otel_traces")[0]["n"] == len(exported["spans"])
    assert ch.rows("SELECT count() AS n FROM llm_calls")[0]["n"] == len(calls)
    # Copies of the model calls 3, 10 and 40 days old: outside every query's 24-hour window.
    for days in (3, 10, 40):
        ch.insert_json("otel_traces", SPAN_COLUMNS, SPAN_STRUCTURE, [span_row(s, days * DAY_NS) for s in calls])
    shipped = sorted(p.name for p in (CLICKHOUSE / "queries").glob("*.sql"))
    assert shipped == sorted(CHECKS), "every shipped query needs a check here"
    for name in shipped:
        rows = run_query(ch, name)
        assert rows, name
        CHECKS[name](rows, calls)
    # Log records load beside their traces: every exported record, joined to its trace by id.
    logs = ch.rows(
        "SELECT count() AS n, countIf(TraceId IN (SELECT TraceId FROM otel_traces)) AS in_trace FROM otel_logs"
    )[0]
    assert logs["n"] == len(exported["logs"]) and logs["in_trace"] == sum(1 for r in exported["logs"] if r["trace_id"])


def parts(db: ClickHouse, table: str) -> dict[int, tuple[str, int]]:
    """Age in days of each active partition -> (disk, rows)."""
    rows = db.rows(
        f"SELECT dateDiff('day', toDate(min_time), today()) AS age, any(disk_name) AS disk, sum(rows) AS n "
        f"FROM system.parts WHERE table = '{table}' AND active AND database = currentDatabase() GROUP BY age"
    )
    return {r["age"]: (r["disk"], r["n"]) for r in rows}


def test_ttl_moves_spans_down_the_tiers_and_deletes_them(
    ch: ClickHouse, exported: dict[str, list[dict[str, Any]]]
) -> None:
    calls = model_calls(exported)
    for days in (0, 3, 10, 40):
        ch.insert_json("otel_traces", SPAN_COLUMNS, SPAN_STRUCTURE, [span_row(s, days * DAY_NS) for s in calls])
    ch.execute("OPTIMIZE TABLE otel_traces FINAL")  # applies the TTL now, as a background merge would
    # The hot volume holds today, warm the last week, cold the rest; at 30 days the parts go.
    got = {age: disk for age, (disk, n) in parts(ch, "otel_traces").items() if n}
    assert got == {0: "hot", 3: "warm", 10: "cold"}, got
    ages = ch.rows("SELECT DISTINCT dateDiff('day', toDate(Timestamp), today()) AS age FROM otel_traces ORDER BY age")
    assert [r["age"] for r in ages] == [0, 3, 10]
    # The model-call rows follow their own TTL (cold after 7 days, kept 400).
    got = {age: disk for age, (disk, n) in parts(ch, "llm_calls").items() if n}
    assert got.get(0) == "hot" and got.get(40) == "cold", got
    # Every table of the schema is on the tiered policy with a TTL delete.
    tables = ch.rows(
        "SELECT name, storage_policy, create_table_query FROM system.tables "
        "WHERE database = currentDatabase() AND engine LIKE '%MergeTree'"
    )
    assert {t["name"] for t in tables} >= {
        "otel_traces",
        "otel_traces_trace_id_ts",
        "otel_logs",
        "otel_metrics_sum",
        "otel_metrics_histogram",
        "llm_calls",
        "llm_hourly",
    }
    for t in tables:
        assert t["storage_policy"] == "fivelens_tiered", t["name"]
        rules = split_top_level(t["create_table_query"].split(" TTL ", 1)[1].split(" SETTINGS ", 1)[0])
        assert any("TO VOLUME 'cold'" in r for r in rules), (t["name"], rules)
        # A rule that moves nowhere is the delete (ClickHouse prints DELETE as the default action).
        assert any(" TO " not in r for r in rules), (t["name"], rules)
