//! The `fivelens` command. Both packages install it and call [`run`], so it behaves the same
//! from pip and npm.
//!
//! ```text
//! fivelens traces [--json] [--limit N] [--db PATH]   recent traces
//! fivelens show TRACE_ID [--json] [--db PATH]        one trace as a span tree
//! fivelens stats [--json] [--db PATH]                totals and per-model figures
//! fivelens logs [TRACE_ID] [--json] [--db PATH]      log records of a trace (or the latest)
//! fivelens replay TRACE_ID [--span ID] [--base-url URL] [--model M] [--n N] [--from FILE]
//! fivelens dataset export [filters] [--out FILE] / dataset run FILE [--model M] [--base-url URL]
//! ```
//!
//! The `--json` shapes are stable: a local UI reads the same.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::semconv as sc;
use crate::store::{Reader, StoredLog, StoredSpan, TraceSummary};

const USAGE: &str = "usage: fivelens <command> [options]

commands:
  traces [--limit N]   recent traces: root, start, duration, spans, status, tokens, cost
  show TRACE_ID        one trace as a span tree (a unique prefix of the id is enough),
                       then its log records
  logs [TRACE_ID]      the log records of a trace in order, each with its span; without
                       an id, the latest records (--limit N, default 20)
  stats                model calls per model (latency p50/p95/p99, tokens, cost, finish
                       reasons), tokens and cost by stage and by prompt version; exact
                       even when traces are sampled
  replay TRACE_ID      re-sends the trace's snapshotted model calls (--span ID for one)
                       through the provider's protocol to --base-url URL (else
                       OPENAI_BASE_URL / ANTHROPIC_BASE_URL, else the provider), with
                       --model M instead of the recorded one, --n N times; shows the new
                       output beside the recorded one, a diff, the token/cost/latency
                       change and the spread over the runs; --from FILE reads exported
                       spans (OTLP JSON) instead of the store
  dataset export       snapshotted calls as JSONL (input, expected_output, metadata,
                       request) to --out FILE (else stdout); filters: --prompt-hash H
                       --model M --stage S --finish-reason R --min-score X --max-score X
                       --since T --until T (2026-01-31[T12:00] or 24h, 7d) --reason R
  dataset run FILE     each line's request against --model M / --base-url URL; the
                       drift (1 - lexical similarity) from the expected outputs

options:
  --json               machine-readable output
  --db PATH            the store file (default: $FIVELENS_STORE_PATH, else $FIVELENS_HOME/fivelens.db)
  -h, --help           this help
  -V, --version        the version
";

struct Args {
    command: Option<String>,
    positional: Vec<String>,
    json: bool,
    limit: usize,
    db: Option<PathBuf>,
}

fn parse(argv: &[String]) -> Result<Args, String> {
    let mut args = Args {
        command: None,
        positional: Vec::new(),
        json: false,
        limit: 20,
        db: None,
    };
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => args.json = true,
            "--limit" | "-n" => {
                let v = it.next().ok_or("--limit needs a number")?;
                args.limit = v
                    .parse()
                    .map_err(|_| format!("--limit: not a number: {v}"))?;
            }
            "--db" => args.db = Some(PathBuf::from(it.next().ok_or("--db needs a path")?)),
            s if s.starts_with("--limit=") => {
                args.limit = s[8..]
                    .parse()
                    .map_err(|_| format!("--limit: not a number: {}", &s[8..]))?;
            }
            s if s.starts_with("--db=") => args.db = Some(PathBuf::from(&s[5..])),
            s if s.starts_with('-') && s != "-" => return Err(format!("unknown option {s}")),
            s => {
                if args.command.is_none() {
                    args.command = Some(s.to_string());
                } else {
                    args.positional.push(s.to_string());
                }
            }
        }
    }
    Ok(args)
}

/// Runs the command with `argv` (without the program name), writing to `out` and `err`;
/// returns the exit code.
pub fn run(argv: &[String], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    if argv.iter().any(|a| a == "-h" || a == "--help") || argv.is_empty() {
        let _ = write!(out, "{USAGE}");
        return if argv.is_empty() { 2 } else { 0 };
    }
    if argv.iter().any(|a| a == "-V" || a == "--version") {
        let _ = writeln!(out, "fivelens {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    // `replay` and `dataset` take options of their own (crate::replay).
    let command_at = argv
        .iter()
        .enumerate()
        .position(|(i, a)| !a.starts_with('-') && (i == 0 || argv[i - 1] != "--db"));
    if let Some(i) = command_at.filter(|i| matches!(argv[*i].as_str(), "replay" | "dataset")) {
        let mut db = None;
        let mut rest = Vec::new();
        let mut it = argv[..i].iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--db" => db = it.next().map(PathBuf::from),
                s if s.starts_with("--db=") => db = Some(PathBuf::from(&s[5..])),
                _ => rest.push(a.clone()),
            }
        }
        rest.extend(argv[i..].iter().cloned());
        return match crate::replay::cli(&rest, db.as_deref(), out, err) {
            Ok(code) => code,
            Err(e) => {
                let _ = writeln!(err, "fivelens: {e}");
                1
            }
        };
    }
    let args = match parse(argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln!(err, "fivelens: {e}\n\n{USAGE}");
            return 2;
        }
    };
    let db = args
        .db
        .clone()
        .unwrap_or_else(crate::config::default_store_file);
    let result = match args.command.as_deref() {
        Some("traces") => traces(&args, &db, out),
        Some("show") => show(&args, &db, out),
        Some("stats") => stats(&args, &db, out),
        Some("logs") => logs(&args, &db, out),
        Some(other) => Err(format!("unknown command {other:?}\n\n{USAGE}")),
        None => Err(USAGE.to_string()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "fivelens: {e}");
            1
        }
    }
}

fn open(db: &Path) -> Result<Option<Reader>, String> {
    Reader::open(db).map_err(|e| e.to_string())
}

fn traces(args: &Args, db: &Path, out: &mut dyn Write) -> Result<i32, String> {
    let list = match open(db)? {
        Some(r) => r.traces(args.limit).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    if args.json {
        let v = serde_json::json!({ "store": db.display().to_string(), "traces": list });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )
        .map_err(|e| e.to_string())?;
        return Ok(0);
    }
    if list.is_empty() {
        writeln!(out, "no traces yet in {}", db.display()).map_err(|e| e.to_string())?;
        return Ok(0);
    }
    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(|e| e.to_string());
    w(
        out,
        format!(
            "{:<32}  {:<28}  {:<19}  {:>9}  {:>5}  {:<6}  {:>13}  {:>9}",
            "TRACE", "ROOT", "START (UTC)", "DURATION", "SPANS", "STATUS", "TOKENS in/out", "COST"
        ),
    )?;
    for t in &list {
        w(
            out,
            format!(
                "{:<32}  {:<28}  {:<19}  {:>9}  {:>5}  {:<6}  {:>13}  {:>9}",
                t.trace_id,
                clip(t.root_name.as_deref().unwrap_or("?"), 28),
                utc(t.start_ns),
                duration(t.duration_ns),
                t.span_count,
                t.status,
                tokens(t.input_tokens, t.output_tokens),
                cost(t.cost_usd),
            ),
        )?;
    }
    Ok(0)
}

fn show(args: &Args, db: &Path, out: &mut dyn Write) -> Result<i32, String> {
    let Some(wanted) = args.positional.first() else {
        return Err("show needs a TRACE_ID (see `fivelens traces`)".into());
    };
    let Some(reader) = open(db)? else {
        return Err(format!("no store at {}", db.display()));
    };
    let ids = reader.resolve_trace_id(wanted).map_err(|e| e.to_string())?;
    let trace_id = match ids.as_slice() {
        [one] => one.clone(),
        [] => return Err(format!("no trace {wanted} in {}", db.display())),
        _ => {
            return Err(format!(
                "{wanted} matches several traces: {}",
                ids.join(", ")
            ))
        }
    };
    let summary = reader.trace(&trace_id).map_err(|e| e.to_string())?;
    let spans = reader.spans(&trace_id).map_err(|e| e.to_string())?;
    let ordered = tree_order(&spans);
    if args.json {
        let list: Vec<serde_json::Value> = ordered
            .iter()
            .map(|(depth, s)| {
                let mut v = serde_json::to_value(s).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("depth".into(), (*depth).into());
                }
                v
            })
            .collect();
        let records = reader.logs(Some(&trace_id), 0).map_err(|e| e.to_string())?;
        let v = serde_json::json!({ "trace": summary, "spans": list, "logs": records });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )
        .map_err(|e| e.to_string())?;
        return Ok(0);
    }
    if let Some(t) = &summary {
        writeln!(out, "{}", header(t)).map_err(|e| e.to_string())?;
    }
    let lines = render_tree(&ordered);
    for l in lines {
        writeln!(out, "{l}").map_err(|e| e.to_string())?;
    }
    let records = reader.logs(Some(&trace_id), 0).map_err(|e| e.to_string())?;
    if !records.is_empty() {
        writeln!(out, "\nlogs ({})", records.len()).map_err(|e| e.to_string())?;
        for l in render_logs(&records, &spans) {
            writeln!(out, "{l}").map_err(|e| e.to_string())?;
        }
    }
    Ok(0)
}

fn logs(args: &Args, db: &Path, out: &mut dyn Write) -> Result<i32, String> {
    let Some(reader) = open(db)? else {
        if args.json {
            writeln!(
                out,
                "{}",
                serde_json::json!({ "store": db.display().to_string(), "logs": [] })
            )
            .map_err(|e| e.to_string())?;
        } else {
            writeln!(out, "no log records yet in {}", db.display()).map_err(|e| e.to_string())?;
        }
        return Ok(0);
    };
    let (trace_id, records) = match args.positional.first() {
        Some(wanted) => {
            let ids = reader
                .resolve_log_trace_id(wanted)
                .map_err(|e| e.to_string())?;
            let id = match ids.as_slice() {
                [one] => one.clone(),
                [] => return Err(format!("no trace {wanted} in {}", db.display())),
                _ => {
                    return Err(format!(
                        "{wanted} matches several traces: {}",
                        ids.join(", ")
                    ))
                }
            };
            let records = reader.logs(Some(&id), 0).map_err(|e| e.to_string())?;
            (Some(id), records)
        }
        None => (
            None,
            reader.logs(None, args.limit).map_err(|e| e.to_string())?,
        ),
    };
    if args.json {
        let v = serde_json::json!({ "store": db.display().to_string(), "trace_id": trace_id, "logs": records });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )
        .map_err(|e| e.to_string())?;
        return Ok(0);
    }
    if records.is_empty() {
        writeln!(out, "no log records in {}", db.display()).map_err(|e| e.to_string())?;
        return Ok(0);
    }
    let spans = match &trace_id {
        Some(id) => reader.spans(id).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    for l in render_logs(&records, &spans) {
        writeln!(out, "{l}").map_err(|e| e.to_string())?;
    }
    Ok(0)
}

/// One line per record: time, level, the span it was logged in (by name when known), the event
/// name, the message and the other attributes.
fn render_logs(records: &[StoredLog], spans: &[StoredSpan]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            let span = match &r.span_id {
                Some(id) => spans
                    .iter()
                    .find(|s| &s.span_id == id)
                    .map(|s| clip(&s.name, 24))
                    .unwrap_or_else(|| id.clone()),
                None => "-".to_string(),
            };
            let level = r
                .severity_text
                .clone()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| crate::logs::severity_text(r.severity_number as u8).into());
            let mut line = format!(
                "{}  {:<7}  {:<24}  ",
                utc_ms(r.time_ns),
                clip(&level.to_ascii_uppercase(), 7),
                span
            );
            if r.trace_id.is_some() && spans.is_empty() {
                line = format!(
                    "{}  {:<7}  {}  ",
                    utc_ms(r.time_ns),
                    clip(&level.to_ascii_uppercase(), 7),
                    r.trace_id.as_deref().unwrap_or("-")
                );
            }
            if let Some(e) = &r.event_name {
                line.push_str(&format!("[{e}] "));
            }
            line.push_str(&clip(r.body.as_deref().unwrap_or(""), 200).replace('\n', "\\n"));
            if let Some(o) = r.attributes.as_object() {
                let shown: Vec<String> = o
                    .iter()
                    .filter(|(k, _)| {
                        !k.starts_with("code.") && k.as_str() != sc::FIVELENS_LOG_SOURCE
                    })
                    .map(|(k, v)| {
                        let v = match v {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        format!("{k}={}", clip(&v, 60))
                    })
                    .collect();
                if !shown.is_empty() {
                    line.push_str("  ");
                    line.push_str(&shown.join(" "));
                }
            }
            line
        })
        .collect()
}

fn utc_ms(ns: i64) -> String {
    let ms = (ns / 1_000_000).rem_euclid(1000);
    let t = utc(ns);
    // `utc` is `YYYY-MM-DD HH:MM:SS`; the time of day is what a log reader scans.
    format!("{}.{ms:03}", t.get(11..).unwrap_or(&t))
}

fn stats(args: &Args, db: &Path, out: &mut dyn Write) -> Result<i32, String> {
    let Some(reader) = open(db)? else {
        if args.json {
            let v = serde_json::json!({ "path": db.display().to_string(), "traces": 0, "spans": 0, "models": [], "stages": [], "prompts": [], "sessions": [], "warnings": [] });
            writeln!(out, "{v}").map_err(|e| e.to_string())?;
        } else {
            writeln!(out, "no traces yet in {}", db.display()).map_err(|e| e.to_string())?;
        }
        return Ok(0);
    };
    let s = reader.stats().map_err(|e| e.to_string())?;
    let behaviour = crate::behaviour::stats(db).unwrap_or_default();
    if args.json {
        let mut v = serde_json::to_value(&s).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "behaviour".into(),
                serde_json::to_value(&behaviour).unwrap_or_default(),
            );
        }
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )
        .map_err(|e| e.to_string())?;
        return Ok(0);
    }
    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(|e| e.to_string());
    w(out, format!("store     {}", s.path))?;
    w(
        out,
        format!(
            "traces    {} ({} with errors)",
            s.traces, s.traces_with_errors
        ),
    )?;
    w(out, format!("spans     {}", s.spans))?;
    if let (Some(a), Some(b)) = (s.first_start_ns, s.last_end_ns) {
        w(out, format!("period    {} .. {} UTC", utc(a), utc(b)))?;
    }
    if !s.models.is_empty() {
        w(out, String::new())?;
        w(
            out,
            "model calls (from the metrics: every call, sampled or not)".into(),
        )?;
        w(
            out,
            format!(
                "{:<12} {:<26} {:>7} {:>6} {:>10} {:>10} {:>11} {:>9} {:>9} {:>9}",
                "PROVIDER",
                "MODEL",
                "CALLS",
                "ERRORS",
                "IN TOK",
                "OUT TOK",
                "COST",
                "P50",
                "P95",
                "P99"
            ),
        )?;
        let ms = |v: Option<f64>| {
            v.map(|m| duration((m * 1e6) as i64))
                .unwrap_or_else(|| "-".into())
        };
        for m in &s.models {
            w(
                out,
                format!(
                    "{:<12} {:<26} {:>7} {:>6} {:>10} {:>10} {:>11} {:>9} {:>9} {:>9}",
                    clip(&m.provider, 12),
                    clip(&m.model, 26),
                    m.calls,
                    m.errors,
                    m.input_tokens,
                    m.output_tokens,
                    cost(m.cost_usd),
                    ms(m.p50_ms),
                    ms(m.p95_ms),
                    ms(m.p99_ms),
                ),
            )?;
        }
        w(out, String::new())?;
        w(out, "finish reasons".into())?;
        for m in &s.models {
            if m.finish_reasons.is_empty() {
                continue;
            }
            let reasons: Vec<String> = m
                .finish_reasons
                .iter()
                .map(|(r, n)| format!("{r} {n}"))
                .collect();
            w(
                out,
                format!("  {:<26} {}", clip(&m.model, 26), reasons.join(", ")),
            )?;
        }
    }
    for (title, groups) in [
        ("by stage", &s.stages),
        ("by prompt version (fivelens.prompt.hash)", &s.prompts),
    ] {
        if groups.is_empty() {
            continue;
        }
        w(out, String::new())?;
        w(out, title.to_string())?;
        for g in groups {
            w(
                out,
                format!(
                    "  {:<26} tokens {:>10} in {:>10} out  {:>11}",
                    clip(&g.name, 26),
                    g.input_tokens,
                    g.output_tokens,
                    cost(g.cost_usd)
                ),
            )?;
        }
    }
    if !s.sessions.is_empty() {
        w(out, String::new())?;
        w(
            out,
            "context window: the conversations nearest to exhaustion (latest call of each)".into(),
        )?;
        w(
            out,
            format!(
                "  {:<26} {:<22} {:>6} {:>10} {:>10} {:>5} {:>9} {:>10}",
                "SESSION", "MODEL", "FILL", "TOKENS", "WINDOW", "TURN", "GROWTH", "TURNS LEFT"
            ),
        )?;
        for x in &s.sessions {
            w(
                out,
                format!(
                    "  {:<26} {:<22} {:>5.1}% {:>10} {:>10} {:>5} {:>9} {:>10}",
                    clip(&x.session, 26),
                    clip(&x.model, 22),
                    x.fill * 100.0,
                    x.input_tokens,
                    x.context_window,
                    x.turn,
                    x.growth_rate
                        .map(|g| format!("{g:+.0}/turn"))
                        .unwrap_or_else(|| "-".into()),
                    x.turns_left
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "-".into()),
                ),
            )?;
        }
    }
    if !behaviour.is_empty() {
        for line in crate::behaviour::render_stats(&behaviour) {
            w(out, line)?;
        }
    }
    for warning in &s.warnings {
        w(out, String::new())?;
        w(out, format!("warning: {warning}"))?;
    }
    Ok(0)
}

fn header(t: &TraceSummary) -> String {
    let mut s = format!(
        "trace {}  {}  {}  {} spans  {}",
        t.trace_id,
        t.root_name.as_deref().unwrap_or("?"),
        duration(t.duration_ns),
        t.span_count,
        t.status
    );
    if t.input_tokens + t.output_tokens > 0 {
        s.push_str(&format!(
            "  tokens {}",
            tokens(t.input_tokens, t.output_tokens)
        ));
    }
    if t.cost_usd > 0.0 {
        s.push_str(&format!("  {}", cost(t.cost_usd)));
    }
    if let Some(sess) = &t.session_id {
        s.push_str(&format!("  session {sess}"));
    }
    s
}

/// Depth-first order, children by start time; spans whose parent is not in the store are roots.
fn tree_order(spans: &[StoredSpan]) -> Vec<(usize, &StoredSpan)> {
    let ids: std::collections::HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: std::collections::HashMap<&str, Vec<&StoredSpan>> =
        std::collections::HashMap::new();
    let mut roots = Vec::new();
    for s in spans {
        match s.parent_span_id.as_deref() {
            Some(p) if ids.contains(p) && p != s.span_id => children.entry(p).or_default().push(s),
            _ => roots.push(s),
        }
    }
    let mut out = Vec::with_capacity(spans.len());
    let mut stack: Vec<(usize, &StoredSpan)> = roots.into_iter().rev().map(|s| (0, s)).collect();
    let mut seen = std::collections::HashSet::new();
    while let Some((depth, s)) = stack.pop() {
        if !seen.insert(s.span_id.as_str()) {
            continue;
        }
        out.push((depth, s));
        if let Some(kids) = children.get(s.span_id.as_str()) {
            for k in kids.iter().rev() {
                stack.push((depth + 1, k));
            }
        }
    }
    out
}

fn render_tree(ordered: &[(usize, &StoredSpan)]) -> Vec<String> {
    let mut lines = Vec::with_capacity(ordered.len());
    for (i, (depth, s)) in ordered.iter().enumerate() {
        let mut prefix = String::new();
        for level in 1..=*depth {
            // Is there a later sibling at this level (same depth, before the subtree ends)?
            let more = ordered[i + 1..]
                .iter()
                .take_while(|(d, _)| *d >= level)
                .any(|(d, _)| *d == level);
            if level == *depth {
                prefix.push_str(if more { "├─ " } else { "└─ " });
            } else {
                prefix.push_str(if more { "│  " } else { "   " });
            }
        }
        let label = format!("{prefix}{}", s.name);
        let mut line = format!("{:<60} {:>10}", clip(&label, 60), duration(s.duration_ns));
        let details = details(s);
        if !details.is_empty() {
            line.push_str("  ");
            line.push_str(&details);
        }
        lines.push(line);
    }
    lines
}

fn details(s: &StoredSpan) -> String {
    let a = &s.attributes;
    let get = |k: &str| a.get(k).filter(|v| !v.is_null());
    let mut parts: Vec<String> = Vec::new();
    if let Some(i) = get(sc::FIVELENS_AGENT_ITERATION).and_then(|v| v.as_i64()) {
        parts.push(format!("iteration {i}"));
    }
    if let Some(n) = get(sc::FIVELENS_RETRY_ATTEMPT).and_then(|v| v.as_i64()) {
        parts.push(format!("attempt {n}"));
    }
    if let Some(p) = get(sc::GEN_AI_PROVIDER_NAME).and_then(|v| v.as_str()) {
        parts.push(p.to_string());
    }
    let input = get(sc::GEN_AI_USAGE_INPUT_TOKENS).and_then(|v| v.as_i64());
    let output = get(sc::GEN_AI_USAGE_OUTPUT_TOKENS).and_then(|v| v.as_i64());
    if input.is_some() || output.is_some() {
        parts.push(format!(
            "tokens {}",
            tokens(input.unwrap_or(0), output.unwrap_or(0))
        ));
    }
    if let Some(c) = get(sc::FIVELENS_COST_USD).and_then(|v| v.as_f64()) {
        parts.push(cost(c));
    }
    if s.status == "ERROR" {
        let kind = get(sc::ERROR_TYPE)
            .and_then(|v| v.as_str())
            .unwrap_or("error");
        let msg = s.status_message.as_deref().unwrap_or("");
        parts.push(format!(
            "ERROR {kind}{}{}",
            if msg.is_empty() { "" } else { ": " },
            clip(msg, 60)
        ));
    }
    parts.join("  ")
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn duration(ns: i64) -> String {
    let ns = ns.max(0) as f64;
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.0} µs", ns / 1e3)
    }
}

fn tokens(input: i64, output: i64) -> String {
    if input == 0 && output == 0 {
        return "-".into();
    }
    format!("{input}/{output}")
}

fn cost(usd: f64) -> String {
    if usd <= 0.0 {
        return "-".into();
    }
    if usd < 0.01 {
        format!("${usd:.5}")
    } else {
        format!("${usd:.2}")
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC from nanoseconds since the epoch (days-to-civil conversion from
/// Howard Hinnant's date algorithms).
fn utc(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_795_000_000_000_000_000), "2026-11-18 11:06:40");
        assert_eq!(utc(951_782_400_000_000_000), "2000-02-29 00:00:00");
    }

    #[test]
    fn usage_and_errors() {
        let mut out = Vec::new();
        let mut err = Vec::new();
        assert_eq!(run(&["--version".into()], &mut out, &mut err), 0);
        assert!(String::from_utf8_lossy(&out).starts_with("fivelens "));
        assert_eq!(run(&["bogus".into()], &mut out, &mut err), 1);
        assert_eq!(
            run(&["traces".into(), "--nope".into()], &mut out, &mut err),
            2
        );
    }

    #[test]
    fn empty_store_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("none.db").display().to_string();
        let mut out = Vec::new();
        let mut err = Vec::new();
        assert_eq!(
            run(
                &["traces".into(), "--db".into(), db.clone()],
                &mut out,
                &mut err
            ),
            0
        );
        assert!(String::from_utf8_lossy(&out).contains("no traces yet"));
        out.clear();
        assert_eq!(
            run(
                &["traces".into(), "--json".into(), "--db".into(), db],
                &mut out,
                &mut err
            ),
            0
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["traces"], serde_json::json!([]));
    }
}
