"""deploy/prometheus/rules.yml and deploy/grafana/fivelens-lenses.json on a real Prometheus (the
Debian package's binary) scraping an instrumented app: the scripted workload (model calls, answers
cut at the token limit, a conversation past 80% of its window, MCP tool calls that fail, guardrail
blocks, confidence scores, redacted content) through fivelens's public APIs. Every rule evaluates
without error and returns data (every alert fires on that workload), and so does every query of
every dashboard panel."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import APP_PYTHON, APPS, DEPLOY, app_env, free_port, get_json, wait_until

RULES = DEPLOY / "prometheus" / "rules.yml"
DASHBOARD = DEPLOY / "grafana" / "fivelens-lenses.json"
ROUNDS = 4


def promql(url: str, query: str) -> list[dict[str, Any]]:
    result = get_json(url + "/api/v1/query?" + urllib.parse.urlencode({"query": query}))
    assert result["status"] == "success", (query, result)
    return result["data"]["result"]  # type: ignore[no-any-return]


@pytest.fixture
def scraped(tmp_path: Path) -> Iterator[str]:
    """A Prometheus with the rules, scraping the workload's endpoint; yields its URL once the
    workload is done and scraped."""
    binary = shutil.which("prometheus")
    assert binary, "the prometheus binary is required (Debian package `prometheus`; .ci/run installs it)"
    app_port, web = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\n  evaluation_interval: 1s\n"
        f"rule_files: ['{RULES}']\n"
        f"scrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['127.0.0.1:{app_port}']\n"
    )
    prometheus = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{web}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    url = f"http://127.0.0.1:{web}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return prometheus.poll() is not None

    wait_until(ready, 30, "prometheus to start")
    assert prometheus.poll() is None, (tmp_path / "prometheus.log").read_text()
    # Rounds two and a half seconds apart, so that Prometheus sees the counters move (a rate needs
    # two scrapes with different values).
    args = ["--rounds", str(ROUNDS), "--pause", "2.5", "--extras", "--linger", "600"]
    app = subprocess.Popen(
        [str(APP_PYTHON), str(APPS / "llm_workload.py"), *args],
        env=app_env(OTEL_EXPORTER_PROMETHEUS_PORT=str(app_port), OTEL_METRICS_EXPORTER="prometheus"),
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "app.log").open("wb"),
        text=True,
    )
    try:
        assert app.stdout is not None
        assert app.stdout.readline().strip() == "done", (tmp_path / "app.log").read_text()[-3000:]
        # 25 + 3 + 1 model calls a round in one_round, and one more in the extras.
        expected = ROUNDS * 30

        def scraped_all() -> bool:
            try:
                got = promql(url, "sum(gen_ai_client_operation_duration_seconds_count)")
            except OSError:
                return False
            return bool(got) and float(got[0]["value"][1]) == expected

        wait_until(scraped_all, 60, "prometheus to scrape the workload's final values")
        yield url
    finally:
        app.kill()
        app.wait(timeout=10)
        prometheus.terminate()
        try:
            prometheus.wait(timeout=10)
        except subprocess.TimeoutExpired:
            prometheus.kill()


def test_rules_are_valid() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with the Debian package `prometheus`"
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_every_rule_and_panel_returns_data(scraped: str) -> None:
    url = scraped

    def rules() -> list[dict[str, Any]] | None:
        groups = get_json(url + "/api/v1/rules")["data"]["groups"]
        found = [r for g in groups for r in g["rules"]]
        # Wait for an evaluation after the final scrape, and for every alert to have fired.
        alerts = [r for r in found if r["type"] == "alerting"]
        rules.last = found  # type: ignore[attr-defined]
        return found if alerts and all(r["state"] in ("pending", "firing") for r in alerts) else None

    rules.last = []  # type: ignore[attr-defined]
    if not wait_until(rules, 60, "every alert to fire on the workload", fail=False):
        pytest.fail(
            "alerts that did not fire: "
            + json.dumps([(r["name"], r["state"], r.get("lastError")) for r in rules.last if r["type"] == "alerting"])  # type: ignore[attr-defined]
        )
    found = wait_until(rules, 60, "every alert to fire on the workload")
    assert len(found) == 18
    for rule in found:
        assert rule["health"] == "ok" and not rule.get("lastError"), rule
        if rule["type"] == "recording":
            assert promql(url, rule["name"]), f"recording rule {rule['name']} returned nothing"
    fired = {
        r["name"]: sorted(json.dumps(a["labels"], sort_keys=True) for a in r["alerts"])
        for r in found
        if r["type"] == "alerting"
    }
    assert set(fired) == {
        "FivelensMaxTokensFinishShare",
        "FivelensContextFillAbove80",
        "FivelensToolErrorRate",
        "FivelensGuardrailBlockRateChange",
        "FivelensCostBurnRate",
    }
    # What fired is what the workload did wrong, and nothing else.
    assert ['"gen_ai_request_model": "gpt-4o"' in a for a in fired["FivelensMaxTokensFinishShare"]] == [True]
    assert ['"gen_ai_request_model": "gpt-4o"' in a for a in fired["FivelensContextFillAbove80"]] == [True]
    assert ['"gen_ai_tool_name": "cancel_order"' in a for a in fired["FivelensToolErrorRate"]] == [True]
    assert ['"fivelens_guardrail_policy": "toxicity"' in a for a in fired["FivelensGuardrailBlockRateChange"]] == [True]

    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert [r.split(":")[0] for r in rows] == ["1. Traces", "2. Metrics", "3. Logs", "4. Events", "5. Behaviour"]
    assert len(panels) >= 15
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            # Grafana's variables as a dashboard with "All" models over the last hour sends them.
            expr = target["expr"].replace("$__rate_interval", "1m").replace("$__range", "1h").replace("$model", ".*")
            assert "$" not in expr, expr
            assert promql(url, expr), f"panel {panel['title']!r}: {expr} returned nothing"
