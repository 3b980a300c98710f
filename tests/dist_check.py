"""The packages in dist/, checked the way a user meets them (`make dist-check`).

A new virtualenv gets the wheel and a new folder gets the npm tarball, both offline. In each, an
app calls `instrument()` and makes a parent and a child span; the trace must show up correctly
parented in `fivelens traces` / `fivelens show` with no configuration (the embedded store), and at
an OTLP/HTTP receiver named by `OTEL_EXPORTER_OTLP_ENDPOINT`.

Usage: python tests/dist_check.py DIST_DIR OTLP_RECEIVER_BINARY
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import venv
from pathlib import Path

PY_APP = """
import fivelens
report = fivelens.instrument(service_name="dist-check-python")
# Every integration shipped must load: skipped (framework not installed) is fine, failed is not.
assert not report.failed, report.failed
assert "openai" in report.skipped or "openai" in report.enabled, report
with fivelens.span("root") as root:
    with fivelens.span("child"):
        pass
print(root.trace_id)
"""

NODE_APP = """
const fivelens = require('fivelens')
const report = fivelens.instrument({ serviceName: 'dist-check-node' })
// Every integration shipped must load: skipped (framework not installed) is fine, failed is not.
const failed = JSON.stringify(report.failed)
if (failed !== '{}') throw new Error('integrations failed: ' + failed)
if (!('openai' in report.skipped) && !report.enabled.includes('openai')) {
  throw new Error('no openai integration: ' + JSON.stringify(report))
}
fivelens.withSpan('root', (root) => {
  fivelens.withSpan('child', () => {})
  console.log(root.traceId)
})
"""


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    out = subprocess.run(cmd, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out.stdout


def check_store(cli: list[str], cwd: Path, env: dict[str, str], trace_id: str, label: str) -> None:
    listing = json.loads(run([*cli, "traces", "--json"], cwd, env))
    [trace] = [t for t in listing["traces"] if t["trace_id"] == trace_id]
    assert trace["root_name"] == "root" and trace["span_count"] == 2, (label, trace)
    shown = json.loads(run([*cli, "show", trace_id, "--json"], cwd, env))
    tree = [(s["depth"], s["name"]) for s in shown["spans"]]
    assert tree == [(0, "root"), (1, "child")], (label, tree)
    print(f"{label}: `fivelens traces` and `fivelens show` see root -> child in {listing['store']}")


def check_receiver(endpoint: str, trace_id: str, label: str) -> None:
    deadline = time.monotonic() + 15
    while True:
        with urllib.request.urlopen(endpoint + "/spans", timeout=10) as r:
            spans = [s for s in json.loads(r.read()) if s["trace_id"] == trace_id]
        if len(spans) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    by_name = {s["name"]: s for s in spans}
    assert set(by_name) == {"root", "child"}, (label, spans)
    assert by_name["child"]["parent_span_id"] == by_name["root"]["span_id"], label
    print(f"{label}: the OTLP receiver got root -> child")


def main() -> None:
    dist, receiver_bin = Path(sys.argv[1]).resolve(), sys.argv[2]
    [wheel] = sorted(dist.glob("fivelens-*.whl"))
    [tarball] = sorted(dist.glob("fivelens-*.tgz"))
    receiver = subprocess.Popen([receiver_bin], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert receiver.stdout is not None
    endpoint = json.loads(receiver.stdout.readline()[len("READY ") :])["http"]
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FIVELENS_", "VIRTUAL_ENV"))}
            os.environ.clear()
            os.environ.update(base)

            # Python: a new virtualenv, the wheel installed offline.
            venv.create(tmp / "venv", with_pip=True)
            py = str(tmp / "venv" / "bin" / "python")
            run([py, "-m", "pip", "install", "--quiet", "--no-index", str(wheel)], tmp, {})
            (tmp / "app.py").write_text(PY_APP)
            home = {"FIVELENS_HOME": str(tmp / "py-home")}
            trace_id = run([py, "app.py"], tmp, home).strip()
            check_store([str(tmp / "venv" / "bin" / "fivelens")], tmp, home, trace_id, "python")
            trace_id = run([py, "app.py"], tmp, {**home, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}).strip()
            check_receiver(endpoint, trace_id, "python")

            # Node: a new folder, the tarball installed offline.
            app = tmp / "node-app"
            app.mkdir()
            (app / "package.json").write_text('{"name": "dist-check", "version": "1.0.0", "private": true}')
            run(["npm", "install", "--offline", "--no-audit", "--no-fund", "--loglevel=error", str(tarball)], app, {})
            (app / "app.js").write_text(NODE_APP)
            home = {"FIVELENS_HOME": str(tmp / "node-home")}
            trace_id = run(["node", "app.js"], app, home).strip()
            check_store([str(app / "node_modules" / ".bin" / "fivelens")], app, home, trace_id, "node")
            trace_id = run(["node", "app.js"], app, {**home, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}).strip()
            check_receiver(endpoint, trace_id, "node")
    finally:
        assert receiver.stdin is not None
        receiver.stdin.close()
        receiver.wait()


if __name__ == "__main__":
    main()
