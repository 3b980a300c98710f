//! LLM metrics, aggregated on the processing thread from every ended model-call span, before any
//! sampling, so they count all traffic.
//!
//! ```text
//!  model-call span ──> Metrics::record ──> cumulative series ──> OTLP metrics (periodic push)
//!                                                          ├──> Prometheus text (scrape)
//!                                                          └──> store deltas (fivelens stats)
//! ```
//!
//! Instruments: `gen_ai.client.operation.duration`, `gen_ai.client.token.usage` and
//! `gen_ai.client.operation.time_to_first_chunk` (histograms with the GenAI conventions'
//! buckets and attributes), and fivelens's counters `fivelens.llm.tokens` (by model and token
//! type), `fivelens.llm.cost` (USD, by model and `deployment.environment.name`) and
//! `fivelens.llm.finish_reasons` (by reason and model: `length` is the `max_tokens` canary).
//!
//! Why not `opentelemetry_sdk`'s aggregation: the store needs exact integer deltas (cost in
//! pico-dollars, merged across processes) and finer latency buckets than the exported ones, and
//! the Prometheus text needs the same series; one small aggregator serves all three, with the
//! OpenTelemetry data model (cumulative temporality, explicit-bucket histograms, a cardinality cap
//! with an overflow series) kept exactly.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, InstrumentationScope, KeyValue as ProtoKeyValue,
};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use rustc_hash::FxHashMap;

use crate::record::{SpanKind, SpanRecord, Status};
use crate::resource::Resource;
use crate::semconv as sc;
use crate::value::ValueRef;

/// Most series per instrument; beyond it, measurements go to one overflow series (the OTel rule).
pub const MAX_SERIES: usize = 2000;

/// The attribute that marks the overflow series.
const OVERFLOW: &str = sc::OTEL_METRIC_OVERFLOW;

/// Fine latency buckets for the store (seconds): 8 per power of two from 1 ms to about 4.4 hours,
/// so stored percentiles are within about 9%.
fn fine_bounds() -> &'static [f64] {
    static BOUNDS: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    BOUNDS.get_or_init(|| {
        let mut v = Vec::new();
        let mut x = 0.001f64;
        while x < 16_384.0 {
            v.push(x);
            x *= 2f64.powf(1.0 / 8.0);
        }
        v
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Instrument {
    Duration,
    TokenUsage,
    TimeToFirstChunk,
    Tokens,
    Cost,
    FinishReasons,
    ContextFill,
    ContextTokens,
    ContextTokensByTier,
    ContextGrowth,
    ContextAlerts,
    McpClientDuration,
    McpServerDuration,
    McpToolCalls,
    PiiEntities,
    SpansDropped,
    GuardrailVerdicts,
    GuardrailDuration,
    GuardrailFalsePositives,
    GuardrailFalsePositiveRate,
    GuardrailResubmissions,
    RedactionOverRedactions,
    Confidence,
    IntentScore,
    IntentLowConfidence,
    RerankSpread,
    PromptInputTokens,
    DriftSimilarity,
    EvaluationScore,
    EvaluationResults,
    EvaluationDropped,
    HallucinationRate,
    Ttgo,
    UserOutcomes,
    RegenerateRate,
    ToolDuration,
    ToolCalls,
    ToolErrors,
    ToolRetries,
    BreakerTransitions,
    GuardRefusals,
}

impl Instrument {
    fn name(self) -> &'static str {
        match self {
            Instrument::Duration => sc::METRIC_OPERATION_DURATION,
            Instrument::TokenUsage => sc::METRIC_TOKEN_USAGE,
            Instrument::TimeToFirstChunk => sc::METRIC_TIME_TO_FIRST_CHUNK,
            Instrument::Tokens => sc::METRIC_TOKENS,
            Instrument::Cost => sc::METRIC_COST,
            Instrument::FinishReasons => sc::METRIC_FINISH_REASONS,
            Instrument::ContextFill => sc::METRIC_CONTEXT_FILL,
            Instrument::ContextTokens => sc::METRIC_CONTEXT_TOKENS,
            Instrument::ContextTokensByTier => sc::METRIC_CONTEXT_TOKENS_BY_TIER,
            Instrument::ContextGrowth => sc::METRIC_CONTEXT_GROWTH,
            Instrument::ContextAlerts => sc::METRIC_CONTEXT_ALERTS,
            Instrument::McpClientDuration => sc::MCP_CLIENT_OPERATION_DURATION,
            Instrument::McpServerDuration => sc::MCP_SERVER_OPERATION_DURATION,
            Instrument::McpToolCalls => sc::METRIC_MCP_TOOL_CALLS,
            Instrument::PiiEntities => sc::METRIC_PII_ENTITIES,
            Instrument::SpansDropped => sc::METRIC_SPANS_DROPPED,
            Instrument::GuardrailVerdicts => sc::METRIC_GUARDRAIL_VERDICTS,
            Instrument::GuardrailDuration => sc::METRIC_GUARDRAIL_DURATION,
            Instrument::GuardrailFalsePositives => sc::METRIC_GUARDRAIL_FALSE_POSITIVES,
            Instrument::GuardrailFalsePositiveRate => sc::METRIC_GUARDRAIL_FALSE_POSITIVE_RATE,
            Instrument::GuardrailResubmissions => sc::METRIC_GUARDRAIL_RESUBMISSIONS,
            Instrument::RedactionOverRedactions => sc::METRIC_REDACTION_OVER_REDACTIONS,
            Instrument::Confidence => sc::METRIC_CONFIDENCE,
            Instrument::IntentScore => sc::METRIC_INTENT_SCORE,
            Instrument::IntentLowConfidence => sc::METRIC_INTENT_LOW_CONFIDENCE,
            Instrument::RerankSpread => sc::METRIC_RERANK_SPREAD,
            Instrument::PromptInputTokens => sc::METRIC_PROMPT_INPUT_TOKENS,
            Instrument::DriftSimilarity => sc::METRIC_DRIFT_SIMILARITY,
            Instrument::EvaluationScore => sc::METRIC_EVALUATION_SCORE,
            Instrument::EvaluationResults => sc::METRIC_EVALUATION_RESULTS,
            Instrument::EvaluationDropped => sc::METRIC_EVALUATION_DROPPED,
            Instrument::HallucinationRate => sc::METRIC_HALLUCINATION_RATE,
            Instrument::Ttgo => sc::METRIC_TTGO,
            Instrument::UserOutcomes => sc::METRIC_USER_OUTCOMES,
            Instrument::RegenerateRate => sc::METRIC_REGENERATE_RATE,
            Instrument::ToolDuration => sc::METRIC_TOOL_DURATION,
            Instrument::ToolCalls => sc::METRIC_TOOL_CALLS,
            Instrument::ToolErrors => sc::METRIC_TOOL_ERRORS,
            Instrument::ToolRetries => sc::METRIC_TOOL_RETRIES,
            Instrument::BreakerTransitions => sc::METRIC_BREAKER_TRANSITIONS,
            Instrument::GuardRefusals => sc::METRIC_GUARD_REFUSALS,
        }
    }
    fn unit(self) -> &'static str {
        match self {
            Instrument::Duration
            | Instrument::TimeToFirstChunk
            | Instrument::McpClientDuration
            | Instrument::McpServerDuration
            | Instrument::ToolDuration => "s",
            Instrument::TokenUsage | Instrument::Tokens => "{token}",
            Instrument::Cost => "USD",
            Instrument::FinishReasons
            | Instrument::McpToolCalls
            | Instrument::ToolCalls
            | Instrument::ToolErrors
            | Instrument::ToolRetries
            | Instrument::GuardRefusals => "{call}",
            Instrument::BreakerTransitions => "{transition}",
            Instrument::ContextFill => "1",
            Instrument::ContextTokens
            | Instrument::ContextTokensByTier
            | Instrument::ContextGrowth => "{token}",
            Instrument::ContextAlerts => "{alert}",
            Instrument::PiiEntities => "{entity}",
            Instrument::SpansDropped => "{span}",
            Instrument::GuardrailVerdicts
            | Instrument::GuardrailFalsePositives
            | Instrument::GuardrailResubmissions => "{check}",
            Instrument::GuardrailDuration | Instrument::Ttgo => "s",
            Instrument::RedactionOverRedactions => "{entity}",
            Instrument::Confidence
            | Instrument::IntentScore
            | Instrument::RerankSpread
            | Instrument::DriftSimilarity
            | Instrument::EvaluationScore
            | Instrument::GuardrailFalsePositiveRate
            | Instrument::HallucinationRate
            | Instrument::RegenerateRate => "1",
            Instrument::IntentLowConfidence => "{classification}",
            Instrument::PromptInputTokens => "{token}",
            Instrument::EvaluationResults | Instrument::EvaluationDropped => "{evaluation}",
            Instrument::UserOutcomes => "{outcome}",
        }
    }
    fn description(self) -> &'static str {
        match self {
            Instrument::Duration => "GenAI operation duration.",
            Instrument::TokenUsage => "Number of input and output tokens used.",
            Instrument::TimeToFirstChunk => {
                "Time to receive the first chunk of a streamed response."
            }
            Instrument::Tokens => "Tokens used, by model and token type.",
            Instrument::Cost => "Cost of model calls in US dollars, by model and environment.",
            Instrument::FinishReasons => "Model calls by finish reason.",
            Instrument::ContextFill => {
                "Share of the model's context window a call's input fills (0.8 is 80%)."
            }
            Instrument::ContextTokens => "Input tokens of model calls, by context section.",
            Instrument::ContextTokensByTier => {
                "Tokens a declared context tier contributed to a model call, by tier."
            }
            Instrument::ContextGrowth => {
                "Growth of a conversation's input tokens from one model call to the next."
            }
            Instrument::ContextAlerts => {
                "Conversations whose context fill rose past the alert threshold."
            }
            Instrument::McpClientDuration => {
                "Duration of MCP requests as seen by the sender (the client of the request)."
            }
            Instrument::McpServerDuration => "Duration of MCP requests handled by a server.",
            Instrument::McpToolCalls => "MCP tool calls by tool, server, side and outcome.",
            Instrument::PiiEntities => {
                "PII values found (and redacted) in captured content, by type."
            }
            Instrument::SpansDropped => {
                "Spans lost before leaving the process (queue or exporter overflow, refusal, shutdown), by reason and category."
            }
            Instrument::GuardrailVerdicts => "Guardrail checks by policy, verdict and action.",
            Instrument::GuardrailDuration => "Latency of guardrail checks, by policy.",
            Instrument::GuardrailFalsePositives => "False positives reported against guardrail checks, by policy.",
            Instrument::GuardrailFalsePositiveRate => {
                "False positives over flagged and blocked checks, by policy."
            }
            Instrument::GuardrailResubmissions => "Resubmissions after a guardrail block, by policy.",
            Instrument::RedactionOverRedactions => "Values reported as wrongly redacted, by type.",
            Instrument::Confidence => "Confidence scores from the model's structured output.",
            Instrument::IntentScore => "Top intent scores of intent classifications, by intent.",
            Instrument::IntentLowConfidence => {
                "Intent classifications whose top score is below the threshold, by intent."
            }
            Instrument::RerankSpread => "Re-ranker spread (top minus bottom score).",
            Instrument::PromptInputTokens => {
                "Input tokens of model calls by prompt version: the prompt's growth over time."
            }
            Instrument::DriftSimilarity => {
                "Similarity of outputs to their golden counterparts, by prompt version."
            }
            Instrument::EvaluationScore => "Evaluation scores, by evaluation name.",
            Instrument::EvaluationResults => "Evaluation results, by evaluation name and label.",
            Instrument::EvaluationDropped => {
                "Evaluations not run because the evaluation pool was saturated, by name."
            }
            Instrument::HallucinationRate => {
                "Share of an evaluation's results labelled hallucinated."
            }
            Instrument::Ttgo => "Time-To-Good-Output: first submit to first accepted output of a session.",
            Instrument::UserOutcomes => "What users did with responses, by outcome.",
            Instrument::RegenerateRate => "Share of reported outcomes that were regenerations.",
            Instrument::ToolDuration => "Duration of tool executions.",
            Instrument::ToolCalls => "Tool calls by tool, kind, server and outcome.",
            Instrument::ToolErrors => "Failed tool calls by tool, kind, server and error category.",
            Instrument::ToolRetries => {
                "Tool calls made again after a failure, by tool, server, source (model or framework) and reason."
            }
            Instrument::BreakerTransitions => {
                "Circuit breaker state changes at the tool boundary, by tool, server, scope, mode and new state."
            }
            Instrument::GuardRefusals => {
                "Model calls refused by a loop or budget guard, by kind and scope."
            }
        }
    }
    fn buckets(self) -> Option<&'static [f64]> {
        match self {
            Instrument::Duration | Instrument::TimeToFirstChunk => Some(sc::DURATION_BUCKETS),
            Instrument::TokenUsage
            | Instrument::ContextTokens
            | Instrument::ContextTokensByTier => Some(sc::TOKEN_BUCKETS),
            Instrument::ContextFill => Some(sc::FILL_BUCKETS),
            Instrument::ContextGrowth => Some(sc::GROWTH_BUCKETS),
            Instrument::McpClientDuration | Instrument::McpServerDuration => {
                Some(sc::MCP_DURATION_BUCKETS)
            }
            Instrument::GuardrailDuration => Some(sc::DURATION_BUCKETS),
            Instrument::Confidence
            | Instrument::IntentScore
            | Instrument::RerankSpread
            | Instrument::DriftSimilarity
            | Instrument::EvaluationScore => Some(sc::SCORE_BUCKETS),
            Instrument::PromptInputTokens => Some(sc::TOKEN_BUCKETS),
            Instrument::Ttgo => Some(sc::TTGO_BUCKETS),
            Instrument::ToolDuration => Some(sc::DURATION_BUCKETS),
            _ => None,
        }
    }
    /// Gauges hold a current value (a rate), not a total.
    fn is_gauge(self) -> bool {
        matches!(
            self,
            Instrument::GuardrailFalsePositiveRate
                | Instrument::HallucinationRate
                | Instrument::RegenerateRate
        )
    }
    const ALL: [Instrument; 41] = [
        Instrument::Duration,
        Instrument::TokenUsage,
        Instrument::TimeToFirstChunk,
        Instrument::Tokens,
        Instrument::Cost,
        Instrument::FinishReasons,
        Instrument::ContextFill,
        Instrument::ContextTokens,
        Instrument::ContextTokensByTier,
        Instrument::ContextGrowth,
        Instrument::ContextAlerts,
        Instrument::McpClientDuration,
        Instrument::McpServerDuration,
        Instrument::McpToolCalls,
        Instrument::PiiEntities,
        Instrument::SpansDropped,
        Instrument::GuardrailVerdicts,
        Instrument::GuardrailDuration,
        Instrument::GuardrailFalsePositives,
        Instrument::GuardrailFalsePositiveRate,
        Instrument::GuardrailResubmissions,
        Instrument::RedactionOverRedactions,
        Instrument::Confidence,
        Instrument::IntentScore,
        Instrument::IntentLowConfidence,
        Instrument::RerankSpread,
        Instrument::PromptInputTokens,
        Instrument::DriftSimilarity,
        Instrument::EvaluationScore,
        Instrument::EvaluationResults,
        Instrument::EvaluationDropped,
        Instrument::HallucinationRate,
        Instrument::Ttgo,
        Instrument::UserOutcomes,
        Instrument::RegenerateRate,
        Instrument::ToolDuration,
        Instrument::ToolCalls,
        Instrument::ToolErrors,
        Instrument::ToolRetries,
        Instrument::BreakerTransitions,
        Instrument::GuardRefusals,
    ];
}

type Labels = Vec<(&'static str, String)>;

/// One series: a counter or an explicit-bucket histogram, cumulative since start, plus the delta
/// since the store last took it.
#[derive(Clone, Debug, Default)]
struct Series {
    /// Counter total (USD for cost), or histogram sum.
    sum: f64,
    /// Exact integer total: tokens, calls, or pico-dollars for cost.
    int_sum: u128,
    count: u64,
    buckets: Vec<u64>,
    min: f64,
    max: f64,
    /// Since the last [`Metrics::take_deltas`].
    delta_sum: f64,
    delta_int: u128,
    delta_count: u64,
    /// Fine buckets (store only; durations).
    delta_fine: Vec<u64>,
}

/// A point for the store: what one series gained since the last take.
#[derive(Clone, Debug, PartialEq)]
pub struct StorePoint {
    /// Instrument name.
    pub name: &'static str,
    /// Attributes, as a JSON object with sorted keys.
    pub attributes: String,
    /// Counter increase (USD for cost) or histogram sum increase.
    pub value: f64,
    /// Exact integer increase (tokens, calls, pico-dollars).
    pub int_value: i64,
    /// Histogram count increase.
    pub count: i64,
    /// Fine-bucket count increases (durations), as JSON; `None` for counters.
    pub buckets: Option<String>,
}

/// The aggregator.
#[derive(Debug)]
pub struct Metrics {
    series: BTreeMap<Instrument, FxHashMap<Labels, Series>>,
    environment: Option<String>,
    include_estimated_tokens: bool,
    start_ns: u64,
}

fn str_attr(r: &SpanRecord, key: &str) -> Option<String> {
    match r.attribute(key) {
        Some(ValueRef::Str(s)) => Some(s.to_string()),
        Some(ValueRef::I64(i)) => Some(i.to_string()),
        _ => None,
    }
}

fn int_attr(r: &SpanRecord, key: &str) -> Option<u64> {
    match r.attribute(key) {
        Some(ValueRef::I64(i)) if i >= 0 => Some(i as u64),
        Some(ValueRef::F64(f)) if f >= 0.0 => Some(f as u64),
        _ => None,
    }
}

impl Metrics {
    /// An empty aggregator. `environment` is the `deployment.environment.name` resource
    /// attribute (for the cost counter); `include_estimated_tokens` puts estimated counts into
    /// `gen_ai.client.token.usage`, which the conventions reserve for reported counts.
    pub fn new(environment: Option<String>, include_estimated_tokens: bool) -> Metrics {
        Metrics {
            series: BTreeMap::new(),
            environment,
            include_estimated_tokens,
            start_ns: crate::record::now_ns(),
        }
    }

    fn series(&mut self, instrument: Instrument, mut labels: Labels) -> &mut Series {
        let map = self.series.entry(instrument).or_default();
        if !map.contains_key(&labels) && map.len() >= MAX_SERIES {
            labels = vec![(OVERFLOW, "true".to_string())];
        }
        let buckets = instrument.buckets();
        map.entry(labels).or_insert_with(|| Series {
            buckets: buckets.map(|b| vec![0; b.len() + 1]).unwrap_or_default(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            ..Series::default()
        })
    }

    fn observe(&mut self, instrument: Instrument, labels: Labels, value: f64) {
        let bounds = instrument.buckets().unwrap_or(&[]);
        let fine = instrument.unit() == "s";
        let s = self.series(instrument, labels);
        let i = bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(bounds.len());
        if let Some(c) = s.buckets.get_mut(i) {
            *c += 1;
        }
        s.sum += value;
        s.count += 1;
        s.min = s.min.min(value);
        s.max = s.max.max(value);
        s.delta_sum += value;
        s.delta_count += 1;
        if fine {
            let fb = fine_bounds();
            if s.delta_fine.is_empty() {
                s.delta_fine = vec![0; fb.len() + 1];
            }
            let j = fb.partition_point(|b| *b < value);
            if let Some(c) = s.delta_fine.get_mut(j) {
                *c += 1;
            }
        }
    }

    fn add(&mut self, instrument: Instrument, labels: Labels, value: f64, int_value: u128) {
        let s = self.series(instrument, labels);
        s.sum += value;
        s.int_sum += int_value;
        s.count += 1;
        s.delta_sum += value;
        s.delta_int += int_value;
        s.delta_count += 1;
    }

    /// Sets the cumulative `fivelens.spans.dropped` series from the pipeline's counters
    /// (`(reason, category, total)`); only increases are taken.
    pub fn set_dropped(&mut self, totals: &[(&'static str, &'static str, u64)]) {
        for &(reason, category, total) in totals {
            if total == 0 {
                continue;
            }
            let s = self.series(
                Instrument::SpansDropped,
                vec![
                    (sc::FIVELENS_DROP_REASON, reason.to_string()),
                    (sc::FIVELENS_SPAN_CATEGORY, category.to_string()),
                ],
            );
            let total = u128::from(total);
            if total > s.int_sum {
                let delta = total - s.int_sum;
                s.sum += delta as f64;
                s.int_sum = total;
                s.count += 1;
                s.delta_sum += delta as f64;
                s.delta_int += delta;
                s.delta_count += 1;
            }
        }
    }

    /// Records one ended span (model calls, tool calls, MCP requests, guard refusals count).
    pub fn record(&mut self, r: &SpanRecord) {
        self.record_pii(r);
        self.record_behaviour(r);
        self.record_guard_events(r);
        let op = str_attr(r, sc::GEN_AI_OPERATION_NAME);
        if op.as_deref() == Some("execute_tool") && r.kind != SpanKind::Server {
            self.record_tool(r);
        }
        if r.attribute(sc::MCP_METHOD_NAME).is_some() {
            self.record_mcp(r);
            return;
        }
        let Some(op) = op else {
            return;
        };
        if !sc::MODEL_OPERATIONS.contains(&op.as_str()) {
            return;
        }
        let provider = str_attr(r, sc::GEN_AI_PROVIDER_NAME);
        let request_model = str_attr(r, sc::GEN_AI_REQUEST_MODEL);
        let response_model = str_attr(r, sc::GEN_AI_RESPONSE_MODEL);
        // fivelens's counters are by the model the app asked for (a provider answers with dated
        // snapshots, which would split one model into several series).
        let model = request_model
            .clone()
            .or_else(|| response_model.clone())
            .unwrap_or_default();
        let error = str_attr(r, sc::ERROR_TYPE)
            .or_else(|| matches!(r.status, Status::Error(_)).then(|| "_OTHER".to_string()));
        let mut base: Labels = vec![(sc::GEN_AI_OPERATION_NAME, op.clone())];
        let push = |labels: &mut Labels, k: &'static str, v: &Option<String>| {
            if let Some(v) = v {
                labels.push((k, v.clone()));
            }
        };
        push(&mut base, sc::GEN_AI_PROVIDER_NAME, &provider);
        push(&mut base, sc::GEN_AI_REQUEST_MODEL, &request_model);
        push(&mut base, sc::GEN_AI_RESPONSE_MODEL, &response_model);
        push(
            &mut base,
            sc::SERVER_ADDRESS,
            &str_attr(r, sc::SERVER_ADDRESS),
        );
        push(&mut base, sc::SERVER_PORT, &str_attr(r, sc::SERVER_PORT));

        let mut duration_labels = base.clone();
        push(&mut duration_labels, sc::ERROR_TYPE, &error);
        let seconds = r.end_ns.saturating_sub(r.start_ns) as f64 / 1e9;
        self.observe(Instrument::Duration, duration_labels, seconds);
        if let Some(ValueRef::F64(ttfc)) = r.attribute(sc::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK) {
            self.observe(Instrument::TimeToFirstChunk, base.clone(), ttfc);
        }

        let estimated = matches!(
            r.attribute(sc::FIVELENS_USAGE_ESTIMATED),
            Some(ValueRef::Bool(true))
        );
        let input = int_attr(r, sc::GEN_AI_USAGE_INPUT_TOKENS);
        let output = int_attr(r, sc::GEN_AI_USAGE_OUTPUT_TOKENS);
        if !estimated || self.include_estimated_tokens {
            for (ty, n) in [("input", input), ("output", output)] {
                if let Some(n) = n {
                    let mut l = base.clone();
                    l.push((sc::GEN_AI_TOKEN_TYPE, ty.to_string()));
                    self.observe(Instrument::TokenUsage, l, n as f64);
                }
            }
        }

        let stage = str_attr(r, sc::FIVELENS_STAGE);
        let prompt = str_attr(r, sc::FIVELENS_PROMPT_HASH);
        let mut by_model: Labels = vec![(sc::GEN_AI_REQUEST_MODEL, model.clone())];
        push(&mut by_model, sc::GEN_AI_PROVIDER_NAME, &provider);
        let mut grouped = by_model.clone();
        push(&mut grouped, sc::FIVELENS_STAGE, &stage);
        push(&mut grouped, sc::FIVELENS_PROMPT_HASH, &prompt);
        for (ty, n) in [
            ("input", input),
            ("output", output),
            (
                "cache_read",
                int_attr(r, sc::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
            ),
            (
                "cache_write",
                int_attr(r, sc::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS),
            ),
            (
                "reasoning",
                int_attr(r, sc::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
            ),
        ] {
            if let Some(n) = n.filter(|n| *n > 0) {
                let mut l = grouped.clone();
                l.push((sc::FIVELENS_TOKEN_TYPE, ty.to_string()));
                self.add(Instrument::Tokens, l, n as f64, u128::from(n));
            }
        }
        if let Some(pico) = r.cost_pico {
            let mut l = grouped.clone();
            push(
                &mut l,
                sc::DEPLOYMENT_ENVIRONMENT_NAME,
                &self.environment.clone(),
            );
            self.add(Instrument::Cost, l, pico as f64 / 1e12, u128::from(pico));
        }
        let reasons: Vec<String> = match r.attribute(sc::GEN_AI_RESPONSE_FINISH_REASONS) {
            Some(ValueRef::Array(crate::value::Value::StrArray(a))) => {
                a.iter().map(|s| s.to_string()).collect()
            }
            Some(ValueRef::Str(s)) => vec![s.to_string()],
            _ => Vec::new(),
        };
        for reason in reasons {
            let mut l = by_model.clone();
            l.push((sc::FIVELENS_FINISH_REASON, reason));
            self.add(Instrument::FinishReasons, l, 1.0, 1);
        }
        self.record_context(r, &by_model);
    }

    /// The context-window instruments, from the attributes the model-call stage wrote
    /// ([`crate::context_window`]).
    fn record_context(&mut self, r: &SpanRecord, by_model: &Labels) {
        if let Some(ValueRef::F64(fill)) = r.attribute(sc::FIVELENS_CONTEXT_FILL) {
            self.observe(Instrument::ContextFill, by_model.clone(), fill);
        }
        let mut sections: Vec<(Instrument, &'static str, String, u64)> = Vec::new();
        for (k, v) in r.payload.iter() {
            let ValueRef::I64(n) = v else { continue };
            if n < 0 {
                continue;
            }
            let key = k.as_str();
            if let Some(section) = key.strip_prefix(sc::FIVELENS_CONTEXT_TOKENS_PREFIX) {
                sections.push((
                    Instrument::ContextTokens,
                    sc::FIVELENS_CONTEXT_SECTION,
                    section.to_string(),
                    n as u64,
                ));
            } else if let Some(tier) = key.strip_prefix(sc::FIVELENS_CONTEXT_TIER_TOKENS_PREFIX) {
                sections.push((
                    Instrument::ContextTokensByTier,
                    sc::FIVELENS_CONTEXT_TIER,
                    tier.to_string(),
                    n as u64,
                ));
            }
        }
        for (instrument, label, name, n) in sections {
            let mut l = by_model.clone();
            l.push((label, name));
            self.observe(instrument, l, n as f64);
        }
        if let Some(ValueRef::I64(g)) = r.attribute(sc::FIVELENS_CONTEXT_GROWTH) {
            self.observe(Instrument::ContextGrowth, by_model.clone(), g as f64);
        }
        if matches!(
            r.attribute(sc::FIVELENS_CONTEXT_ALERT),
            Some(ValueRef::Bool(true))
        ) {
            self.add(Instrument::ContextAlerts, by_model.clone(), 1.0, 1);
        }
    }

    /// An MCP request's span (client or server side; any span carrying `mcp.method.name`, so also
    /// an agent framework's `execute_tool` span that the MCP integration added its attributes to):
    /// the MCP conventions' operation duration with the span's attributes minus the session id,
    /// the request id and the tool-call payloads (and `server.*` on the server side); for
    /// `tools/call`, fivelens's call counter by outcome.
    fn record_mcp(&mut self, r: &SpanRecord) {
        let server = r.kind == SpanKind::Server;
        let error = str_attr(r, sc::ERROR_TYPE)
            .or_else(|| matches!(r.status, Status::Error(_)).then(|| "_OTHER".to_string()));
        let mut keys: Vec<&'static str> = vec![
            sc::MCP_METHOD_NAME,
            sc::GEN_AI_OPERATION_NAME,
            sc::GEN_AI_TOOL_NAME,
            sc::GEN_AI_PROMPT_NAME,
            sc::RPC_RESPONSE_STATUS_CODE,
            sc::MCP_PROTOCOL_VERSION,
            sc::JSONRPC_PROTOCOL_VERSION,
            sc::NETWORK_TRANSPORT,
            sc::NETWORK_PROTOCOL_NAME,
            sc::NETWORK_PROTOCOL_VERSION,
        ];
        if !server {
            keys.extend([sc::SERVER_ADDRESS, sc::SERVER_PORT, sc::MCP_SERVER_NAME]);
        }
        let mut labels: Labels = keys
            .into_iter()
            .filter_map(|k| str_attr(r, k).map(|v| (k, v)))
            .collect();
        if let Some(e) = &error {
            labels.push((sc::ERROR_TYPE, e.clone()));
        }
        let seconds = r.end_ns.saturating_sub(r.start_ns) as f64 / 1e9;
        let instrument = if server {
            Instrument::McpServerDuration
        } else {
            Instrument::McpClientDuration
        };
        self.observe(instrument, labels, seconds);

        if str_attr(r, sc::MCP_METHOD_NAME).as_deref() != Some("tools/call") {
            return;
        }
        let mut calls: Labels = vec![(
            sc::FIVELENS_MCP_SIDE,
            if server { "server" } else { "client" }.to_string(),
        )];
        for k in [sc::GEN_AI_TOOL_NAME, sc::MCP_SERVER_NAME] {
            if let Some(v) = str_attr(r, k) {
                calls.push((k, v));
            }
        }
        calls.push((
            sc::FIVELENS_OUTCOME,
            if error.is_some() { "error" } else { "ok" }.to_string(),
        ));
        if let Some(e) = error {
            calls.push((sc::ERROR_TYPE, e));
        }
        self.add(Instrument::McpToolCalls, calls, 1.0, 1);
    }

    /// A tool call (an `execute_tool` span that is not an MCP server's handling of it): the
    /// conventions' duration histogram, and fivelens's counters of calls by outcome, errors by
    /// category, retries by source and reason, and breaker transitions (from the span's
    /// `fivelens.tool.breaker.state_change` events).
    fn record_tool(&mut self, r: &SpanRecord) {
        let tool = str_attr(r, sc::GEN_AI_TOOL_NAME).unwrap_or_else(|| "_OTHER".to_string());
        let server = str_attr(r, sc::MCP_SERVER_NAME);
        let address = if server.is_none() {
            str_attr(r, sc::SERVER_ADDRESS)
        } else {
            None
        };
        let kind = str_attr(r, sc::FIVELENS_TOOL_KIND).unwrap_or_else(|| {
            if r.attribute(sc::MCP_METHOD_NAME).is_some() || server.is_some() {
                "mcp".to_string()
            } else {
                "function".to_string()
            }
        });
        let mut base: Labels = vec![(sc::GEN_AI_TOOL_NAME, tool)];
        if let Some(s) = &server {
            base.push((sc::MCP_SERVER_NAME, s.clone()));
        }
        if let Some(a) = &address {
            base.push((sc::SERVER_ADDRESS, a.clone()));
        }
        let rejected = matches!(
            r.attribute(sc::FIVELENS_BREAKER_REJECTED),
            Some(ValueRef::Bool(true))
        );
        let failed = matches!(r.status, Status::Error(_)) || r.attribute(sc::ERROR_TYPE).is_some();
        let error = str_attr(r, sc::ERROR_TYPE)
            .or_else(|| matches!(r.status, Status::Error(_)).then(|| "_OTHER".to_string()));

        for e in &r.events {
            if &*e.name != sc::FIVELENS_EVENT_BREAKER {
                continue;
            }
            let mut l = base.clone();
            for key in [
                sc::FIVELENS_BREAKER_SCOPE,
                sc::FIVELENS_BREAKER_MODE,
                sc::FIVELENS_BREAKER_TO,
            ] {
                if let Some((_, crate::value::Value::Str(v))) =
                    e.attributes.iter().find(|(k, _)| k.as_str() == key)
                {
                    l.push((key, v.to_string()));
                }
            }
            self.add(Instrument::BreakerTransitions, l, 1.0, 1);
        }

        if !rejected {
            let mut l: Labels = base.clone();
            if let Some(t) = str_attr(r, sc::GEN_AI_TOOL_TYPE) {
                l.push((sc::GEN_AI_TOOL_TYPE, t));
            }
            if let Some(a) = str_attr(r, sc::GEN_AI_AGENT_NAME) {
                l.push((sc::GEN_AI_AGENT_NAME, a));
            }
            if let Some(e) = &error {
                l.push((sc::ERROR_TYPE, e.clone()));
            }
            let seconds = r.end_ns.saturating_sub(r.start_ns) as f64 / 1e9;
            self.observe(Instrument::ToolDuration, l, seconds);
        }

        let outcome = if rejected {
            "rejected"
        } else if failed {
            "error"
        } else {
            "ok"
        };
        let mut calls = base.clone();
        calls.push((sc::FIVELENS_TOOL_KIND, kind.clone()));
        calls.push((sc::FIVELENS_OUTCOME, outcome.to_string()));
        self.add(Instrument::ToolCalls, calls, 1.0, 1);

        if failed && !rejected {
            let category = str_attr(r, sc::FIVELENS_TOOL_ERROR_CATEGORY)
                .filter(|c| crate::tools::Category::parse(c).is_some())
                .unwrap_or_else(|| {
                    let message = match &r.status {
                        Status::Error(m) => Some(m.as_ref()),
                        _ => None,
                    };
                    let code = [sc::HTTP_RESPONSE_STATUS_CODE, sc::RPC_RESPONSE_STATUS_CODE]
                        .iter()
                        .find_map(|k| str_attr(r, k).and_then(|v| v.parse::<i64>().ok()));
                    crate::tools::classify(&crate::tools::Failure {
                        error_type: error.as_deref(),
                        message,
                        status_code: code,
                        payload: false,
                    })
                    .as_str()
                    .to_string()
                });
            let mut l = base.clone();
            l.push((sc::FIVELENS_TOOL_KIND, kind));
            l.push((sc::FIVELENS_TOOL_ERROR_CATEGORY, category));
            self.add(Instrument::ToolErrors, l, 1.0, 1);
        }

        let attempt = match r.attribute(sc::FIVELENS_RETRY_ATTEMPT) {
            Some(ValueRef::I64(n)) => n,
            _ => 0,
        };
        if attempt > 1 {
            let mut l = base;
            l.push((
                sc::FIVELENS_RETRY_SOURCE,
                str_attr(r, sc::FIVELENS_RETRY_SOURCE).unwrap_or_else(|| "model".to_string()),
            ));
            if let Some(reason) = str_attr(r, sc::FIVELENS_RETRY_REASON) {
                l.push((sc::FIVELENS_RETRY_REASON, reason));
            }
            self.add(Instrument::ToolRetries, l, 1.0, 1);
        }
    }

    /// `fivelens.guard.refusals` from `fivelens.guard.exceeded` events.
    fn record_guard_events(&mut self, r: &SpanRecord) {
        for e in &r.events {
            if &*e.name != sc::FIVELENS_EVENT_GUARD {
                continue;
            }
            let mut l: Labels = Vec::new();
            for key in [sc::FIVELENS_GUARD_KIND, sc::FIVELENS_GUARD_SCOPE] {
                if let Some((_, crate::value::Value::Str(v))) =
                    e.attributes.iter().find(|(k, _)| k.as_str() == key)
                {
                    l.push((key, v.to_string()));
                }
            }
            self.add(Instrument::GuardRefusals, l, 1.0, 1);
        }
    }

    /// `fivelens.pii.entities` from the span's `fivelens.redaction.<type>` counts.
    fn record_pii(&mut self, r: &SpanRecord) {
        let mut found: Vec<(String, u64)> = Vec::new();
        for (k, v) in r.payload.iter() {
            if let (Some(kind), ValueRef::I64(n)) =
                (k.as_str().strip_prefix(sc::FIVELENS_REDACTION_PREFIX), v)
            {
                if n > 0 {
                    found.push((kind.to_ascii_uppercase(), n as u64));
                }
            }
        }
        for (kind, n) in found {
            self.add(
                Instrument::PiiEntities,
                vec![(sc::FIVELENS_PII_TYPE, kind)],
                n as f64,
                u128::from(n),
            );
        }
    }

    /// Whether anything was recorded.
    pub fn is_empty(&self) -> bool {
        self.series.values().all(|m| m.is_empty())
    }

    /// Cumulative OTLP export of every series.
    pub fn to_otlp(&self, resource: &Resource, now_ns: u64) -> ExportMetricsServiceRequest {
        let kv = |k: &str, v: &str| ProtoKeyValue {
            key: k.to_string(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.to_string())),
            }),
            ..Default::default()
        };
        let mut metrics = Vec::new();
        for (instrument, map) in &self.series {
            if map.is_empty() {
                continue;
            }
            let mut keys: Vec<&Labels> = map.keys().collect();
            keys.sort();
            let data = match instrument.buckets() {
                None if instrument.is_gauge() => metric::Data::Gauge(Gauge {
                    data_points: keys
                        .iter()
                        .map(|labels| NumberDataPoint {
                            attributes: labels.iter().map(|(k, v)| kv(k, v)).collect(),
                            start_time_unix_nano: self.start_ns,
                            time_unix_nano: now_ns,
                            value: Some(number_data_point::Value::AsDouble(map[*labels].sum)),
                            ..Default::default()
                        })
                        .collect(),
                }),
                Some(bounds) => metric::Data::Histogram(Histogram {
                    data_points: keys
                        .iter()
                        .map(|labels| {
                            let s = &map[*labels];
                            HistogramDataPoint {
                                attributes: labels.iter().map(|(k, v)| kv(k, v)).collect(),
                                start_time_unix_nano: self.start_ns,
                                time_unix_nano: now_ns,
                                count: s.count,
                                sum: Some(s.sum),
                                bucket_counts: s.buckets.clone(),
                                explicit_bounds: bounds.to_vec(),
                                min: (s.count > 0).then_some(s.min),
                                max: (s.count > 0).then_some(s.max),
                                ..Default::default()
                            }
                        })
                        .collect(),
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                }),
                None => metric::Data::Sum(Sum {
                    data_points: keys
                        .iter()
                        .map(|labels| {
                            let s = &map[*labels];
                            NumberDataPoint {
                                attributes: labels.iter().map(|(k, v)| kv(k, v)).collect(),
                                start_time_unix_nano: self.start_ns,
                                time_unix_nano: now_ns,
                                value: Some(if *instrument == Instrument::Cost {
                                    number_data_point::Value::AsDouble(s.sum)
                                } else {
                                    number_data_point::Value::AsInt(
                                        s.int_sum.min(i64::MAX as u128) as i64
                                    )
                                }),
                                ..Default::default()
                            }
                        })
                        .collect(),
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                }),
            };
            metrics.push(Metric {
                name: instrument.name().to_string(),
                description: instrument.description().to_string(),
                unit: instrument.unit().to_string(),
                data: Some(data),
                ..Default::default()
            });
        }
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(ProtoResource {
                    attributes: resource
                        .attributes
                        .iter()
                        .map(|(k, v)| ProtoKeyValue {
                            key: k.as_str().to_string(),
                            value: Some(crate::export::encode::any_value(v)),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "fivelens".to_string(),
                        version: env!("CARGO_PKG_VERSION").to_string(),
                        ..Default::default()
                    }),
                    metrics,
                    schema_url: sc::SCHEMA_URL.to_string(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    /// The Prometheus text exposition of every series (names and units converted as the
    /// OpenTelemetry-to-Prometheus rules say: dots become underscores, unit suffixes, `_total`
    /// on counters).
    pub fn prometheus_text(&self) -> String {
        let mut out = String::new();
        for (instrument, map) in &self.series {
            if map.is_empty() {
                continue;
            }
            let base = instrument.name().replace('.', "_");
            let name = match instrument.unit() {
                "s" => format!("{base}_seconds"),
                "USD" => format!("{base}_usd"),
                _ => base,
            };
            let mut keys: Vec<&Labels> = map.keys().collect();
            keys.sort();
            match instrument.buckets() {
                Some(bounds) => {
                    let _ = writeln!(out, "# HELP {name} {}", instrument.description());
                    let _ = writeln!(out, "# TYPE {name} histogram");
                    for labels in keys {
                        let s = &map[labels];
                        let mut cumulative = 0u64;
                        for (i, c) in s.buckets.iter().enumerate() {
                            cumulative += c;
                            let le = bounds
                                .get(i)
                                .map(|b| format_float(*b))
                                .unwrap_or_else(|| "+Inf".to_string());
                            let _ = writeln!(
                                out,
                                "{name}_bucket{} {cumulative}",
                                prom_labels(labels, Some(&le))
                            );
                        }
                        let _ = writeln!(
                            out,
                            "{name}_sum{} {}",
                            prom_labels(labels, None),
                            format_float(s.sum)
                        );
                        let _ =
                            writeln!(out, "{name}_count{} {}", prom_labels(labels, None), s.count);
                    }
                }
                None if instrument.is_gauge() => {
                    let _ = writeln!(out, "# HELP {name} {}", instrument.description());
                    let _ = writeln!(out, "# TYPE {name} gauge");
                    for labels in keys {
                        let v = format_float(map[labels].sum);
                        let _ = writeln!(out, "{name}{} {v}", prom_labels(labels, None));
                    }
                }
                None => {
                    let total = format!("{name}_total");
                    let _ = writeln!(out, "# HELP {total} {}", instrument.description());
                    let _ = writeln!(out, "# TYPE {total} counter");
                    for labels in keys {
                        let s = &map[labels];
                        let value = if *instrument == Instrument::Cost {
                            format_float(s.sum)
                        } else {
                            s.int_sum.to_string()
                        };
                        let _ = writeln!(out, "{total}{} {value}", prom_labels(labels, None));
                    }
                }
            }
        }
        out
    }

    /// What every series gained since the last call (for the store), and resets the deltas.
    pub fn take_deltas(&mut self) -> Vec<StorePoint> {
        let mut out = Vec::new();
        for (instrument, map) in self.series.iter_mut() {
            for (labels, s) in map.iter_mut() {
                if s.delta_count == 0 {
                    continue;
                }
                let attributes = serde_json::Value::Object(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
                        .collect(),
                )
                .to_string();
                out.push(StorePoint {
                    name: instrument.name(),
                    attributes,
                    value: s.delta_sum,
                    int_value: s.delta_int.min(i64::MAX as u128) as i64,
                    count: s.delta_count as i64,
                    buckets: (!s.delta_fine.is_empty())
                        .then(|| serde_json::to_string(&s.delta_fine).unwrap_or_default()),
                });
                s.delta_sum = 0.0;
                s.delta_int = 0;
                s.delta_count = 0;
                s.delta_fine.iter_mut().for_each(|c| *c = 0);
            }
        }
        out
    }

    /// The names of the instruments.
    pub fn instrument_names() -> Vec<&'static str> {
        Instrument::ALL.iter().map(|i| i.name()).collect()
    }
}

/// The behaviour lens's instruments ([`crate::behaviour`]): from the attributes of guardrail
/// checks, feedback, signals, drift checks and outcome spans, and from evaluation records.
impl Metrics {
    fn total(&self, instrument: Instrument, keep: impl Fn(&Labels) -> bool) -> u128 {
        self.series
            .get(&instrument)
            .map(|m| {
                m.iter()
                    .filter(|(l, _)| keep(l))
                    .map(|(_, s)| s.int_sum)
                    .sum()
            })
            .unwrap_or(0)
    }

    fn set_gauge(&mut self, instrument: Instrument, labels: Labels, value: f64) {
        let s = self.series(instrument, labels);
        s.sum = value;
        s.count = 1;
    }

    fn count(&mut self, instrument: Instrument, labels: Labels) {
        self.add(instrument, labels, 1.0, 1);
    }

    fn guardrail_rate(&mut self, policy: &str) {
        let is = |l: &Labels, k: &str, v: &str| l.iter().any(|(lk, lv)| *lk == k && lv == v);
        let checks = self.total(Instrument::GuardrailVerdicts, |l| {
            is(l, sc::FIVELENS_GUARDRAIL_POLICY, policy)
                && (is(l, sc::FIVELENS_GUARDRAIL_VERDICT, "flag")
                    || is(l, sc::FIVELENS_GUARDRAIL_VERDICT, "block"))
        });
        let fp = self.total(Instrument::GuardrailFalsePositives, |l| {
            is(l, sc::FIVELENS_GUARDRAIL_POLICY, policy)
        });
        if checks > 0 || fp > 0 {
            let rate = if checks == 0 {
                1.0
            } else {
                (fp as f64 / checks as f64).min(1.0)
            };
            self.set_gauge(
                Instrument::GuardrailFalsePositiveRate,
                vec![(sc::FIVELENS_GUARDRAIL_POLICY, policy.to_string())],
                rate,
            );
        }
    }

    fn record_behaviour(&mut self, r: &SpanRecord) {
        let f64_attr = |k: &str| match r.attribute(k) {
            Some(ValueRef::F64(f)) if f.is_finite() => Some(f),
            Some(ValueRef::I64(i)) => Some(i as f64),
            _ => None,
        };
        let feedback = str_attr(r, sc::FIVELENS_FEEDBACK_KIND);
        if let Some(policy) = str_attr(r, sc::FIVELENS_GUARDRAIL_POLICY) {
            let labels = vec![(sc::FIVELENS_GUARDRAIL_POLICY, policy.clone())];
            if feedback.as_deref() == Some("false_positive") {
                self.count(Instrument::GuardrailFalsePositives, labels);
                self.guardrail_rate(&policy);
            } else if feedback.is_none() {
                if let Some(verdict) = str_attr(r, sc::FIVELENS_GUARDRAIL_VERDICT) {
                    let mut l = labels.clone();
                    l.push((sc::FIVELENS_GUARDRAIL_VERDICT, verdict));
                    l.push((
                        sc::FIVELENS_GUARDRAIL_ACTION,
                        str_attr(r, sc::FIVELENS_GUARDRAIL_ACTION).unwrap_or_default(),
                    ));
                    self.count(Instrument::GuardrailVerdicts, l);
                    let seconds = r.end_ns.saturating_sub(r.start_ns) as f64 / 1e9;
                    self.observe(Instrument::GuardrailDuration, labels.clone(), seconds);
                    if matches!(
                        r.attribute(sc::FIVELENS_GUARDRAIL_RESUBMISSION),
                        Some(ValueRef::Bool(true))
                    ) {
                        self.count(Instrument::GuardrailResubmissions, labels);
                    }
                    self.guardrail_rate(&policy);
                }
            }
        }
        if feedback.as_deref() == Some("over_redaction") {
            let kind = str_attr(r, sc::FIVELENS_PII_TYPE)
                .map(|t| t.to_ascii_uppercase())
                .unwrap_or_else(|| "_OTHER".to_string());
            self.count(
                Instrument::RedactionOverRedactions,
                vec![(sc::FIVELENS_PII_TYPE, kind)],
            );
        }
        if let Some(c) = f64_attr(sc::FIVELENS_CONFIDENCE_SCORE) {
            let mut l = Labels::new();
            if let Some(src) = str_attr(r, sc::FIVELENS_CONFIDENCE_SOURCE) {
                l.push((sc::FIVELENS_CONFIDENCE_SOURCE, src));
            }
            self.observe(Instrument::Confidence, l, c);
        }
        if let (Some(intent), Some(score)) = (
            str_attr(r, sc::FIVELENS_INTENT_NAME),
            f64_attr(sc::FIVELENS_INTENT_SCORE),
        ) {
            let l = vec![(sc::FIVELENS_INTENT_NAME, intent)];
            self.observe(Instrument::IntentScore, l.clone(), score);
            if matches!(
                r.attribute(sc::FIVELENS_INTENT_LOW_CONFIDENCE),
                Some(ValueRef::Bool(true))
            ) {
                self.count(Instrument::IntentLowConfidence, l);
            }
        }
        if let Some(spread) = f64_attr(sc::FIVELENS_RERANK_SPREAD) {
            let mut l = Labels::new();
            if let Some(src) = str_attr(r, sc::GEN_AI_DATA_SOURCE_ID) {
                l.push((sc::GEN_AI_DATA_SOURCE_ID, src));
            }
            self.observe(Instrument::RerankSpread, l, spread);
        }
        if let Some(sim) = f64_attr(sc::FIVELENS_DRIFT_SIMILARITY) {
            let l = vec![
                (
                    sc::FIVELENS_DRIFT_PROMPT_VERSION,
                    str_attr(r, sc::FIVELENS_DRIFT_PROMPT_VERSION).unwrap_or_default(),
                ),
                (
                    sc::FIVELENS_DRIFT_METHOD,
                    str_attr(r, sc::FIVELENS_DRIFT_METHOD).unwrap_or_else(|| "lexical".into()),
                ),
            ];
            self.observe(Instrument::DriftSimilarity, l, sim);
        }
        if let Some(outcome) = str_attr(r, sc::FIVELENS_USER_OUTCOME) {
            self.count(
                Instrument::UserOutcomes,
                vec![(sc::FIVELENS_USER_OUTCOME, outcome.clone())],
            );
            if let Some(ttgo) = f64_attr(sc::FIVELENS_TTGO) {
                self.observe(
                    Instrument::Ttgo,
                    vec![(sc::FIVELENS_USER_OUTCOME, outcome)],
                    ttgo,
                );
            }
            let all = self.total(Instrument::UserOutcomes, |_| true);
            let regenerated = self.total(Instrument::UserOutcomes, |l| {
                l.iter()
                    .any(|(k, v)| *k == sc::FIVELENS_USER_OUTCOME && v == "regenerated")
            });
            if all > 0 {
                self.set_gauge(
                    Instrument::RegenerateRate,
                    Labels::new(),
                    regenerated as f64 / all as f64,
                );
            }
        }
        // The prompt's growth: input tokens per prompt version (or system-prompt hash).
        if let (Some(op), Some(input)) = (
            str_attr(r, sc::GEN_AI_OPERATION_NAME),
            int_attr(r, sc::GEN_AI_USAGE_INPUT_TOKENS),
        ) {
            if sc::MODEL_OPERATIONS.contains(&op.as_str()) {
                let mut l = Labels::new();
                for k in [
                    sc::GEN_AI_PROMPT_NAME,
                    sc::GEN_AI_PROMPT_VERSION,
                    sc::FIVELENS_PROMPT_HASH,
                    sc::GEN_AI_REQUEST_MODEL,
                ] {
                    if let Some(v) = str_attr(r, k) {
                        l.push((k, v));
                    }
                }
                if l.len() > 1 || !l.iter().any(|(k, _)| *k == sc::GEN_AI_REQUEST_MODEL) {
                    self.observe(Instrument::PromptInputTokens, l, input as f64);
                }
            }
        }
    }

    /// A `gen_ai.evaluation.result` record: score and result counters, the hallucination rate,
    /// and embedding drift checks (evaluation `fivelens.drift`).
    pub fn record_evaluation(&mut self, r: &crate::logs::LogRecord) {
        use crate::value::Value;
        if r.event_name.as_deref() != Some(sc::EVENT_EVALUATION_RESULT) {
            return;
        }
        let text = |k: &str| match r.attribute(k) {
            Some(Value::Str(s)) => Some(s.to_string()),
            _ => None,
        };
        let Some(name) = text(sc::GEN_AI_EVALUATION_NAME) else {
            return;
        };
        let score = match r.attribute(sc::GEN_AI_EVALUATION_SCORE_VALUE) {
            Some(Value::F64(f)) if f.is_finite() => Some(*f),
            Some(Value::I64(i)) => Some(*i as f64),
            _ => None,
        };
        let by_name = vec![(sc::GEN_AI_EVALUATION_NAME, name.clone())];
        if name == sc::EVALUATION_DRIFT {
            if let Some(s) = score {
                let l = vec![
                    (
                        sc::FIVELENS_DRIFT_PROMPT_VERSION,
                        text(sc::FIVELENS_DRIFT_PROMPT_VERSION).unwrap_or_default(),
                    ),
                    (sc::FIVELENS_DRIFT_METHOD, "embedding".to_string()),
                ];
                self.observe(Instrument::DriftSimilarity, l, s);
            }
            return;
        }
        if let Some(s) = score {
            self.observe(Instrument::EvaluationScore, by_name.clone(), s);
        }
        let label = text(sc::GEN_AI_EVALUATION_SCORE_LABEL);
        let mut l = by_name.clone();
        if let Some(label) = &label {
            l.push((sc::GEN_AI_EVALUATION_SCORE_LABEL, label.clone()));
        }
        if let Some(e) = text(sc::ERROR_TYPE) {
            l.push((sc::ERROR_TYPE, e));
        }
        self.count(Instrument::EvaluationResults, l);
        let of_name = |l: &Labels| {
            l.iter()
                .any(|(k, v)| *k == sc::GEN_AI_EVALUATION_NAME && *v == name)
        };
        let hallucinated = self.total(Instrument::EvaluationResults, |l| {
            of_name(l)
                && l.iter().any(|(k, v)| {
                    *k == sc::GEN_AI_EVALUATION_SCORE_LABEL && v == sc::LABEL_HALLUCINATED
                })
        });
        if hallucinated > 0 || name.contains("hallucination") {
            let all = self.total(Instrument::EvaluationResults, of_name);
            if all > 0 {
                self.set_gauge(
                    Instrument::HallucinationRate,
                    by_name,
                    hallucinated as f64 / all as f64,
                );
            }
        }
    }

    /// Counts evaluations the binding's pool dropped (saturated).
    pub fn evaluation_dropped(&mut self, name: &str, n: u64) {
        self.add(
            Instrument::EvaluationDropped,
            vec![(sc::GEN_AI_EVALUATION_NAME, name.to_string())],
            n as f64,
            u128::from(n),
        );
    }
}

/// The upper bounds of the store's fine latency buckets (seconds), for readers of the store.
pub fn store_bucket_bounds() -> &'static [f64] {
    fine_bounds()
}

/// The `q` quantile (0..1) of a fine-bucket histogram, by linear interpolation in the bucket.
pub fn quantile(buckets: &[u64], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let bounds = fine_bounds();
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0u64;
    for (i, c) in buckets.iter().enumerate() {
        if seen + c >= rank && *c > 0 {
            let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
            let upper = bounds.get(i).copied().unwrap_or(lower * 2.0);
            let within = (rank - seen) as f64 / *c as f64;
            return Some(lower + (upper - lower) * within);
        }
        seen += c;
    }
    None
}

fn format_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

fn prom_labels(labels: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{}=\"{}\"", k.replace('.', "_"), escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Key;
    use crate::value::Value;

    fn call(
        model: &str,
        seconds: f64,
        input: i64,
        output: i64,
        cost_pico: Option<u64>,
        reason: &str,
    ) -> SpanRecord {
        let mut r = SpanRecord::start(&format!("chat {model}"), SpanKind::Client, None);
        r.set_attribute(Key::new(sc::GEN_AI_OPERATION_NAME), Value::from("chat"));
        r.set_attribute(Key::new(sc::GEN_AI_PROVIDER_NAME), Value::from("openai"));
        r.set_attribute(Key::new(sc::GEN_AI_REQUEST_MODEL), Value::from(model));
        r.set_attribute(Key::new(sc::GEN_AI_USAGE_INPUT_TOKENS), Value::I64(input));
        r.set_attribute(Key::new(sc::GEN_AI_USAGE_OUTPUT_TOKENS), Value::I64(output));
        r.set_attribute(
            Key::new(sc::GEN_AI_RESPONSE_FINISH_REASONS),
            Value::StrArray(vec![reason.into()].into()),
        );
        r.cost_pico = cost_pico;
        r.end_at(Some(r.start_ns + (seconds * 1e9) as u64));
        r
    }

    #[test]
    fn aggregates_and_exposes() {
        let mut m = Metrics::new(Some("prod".into()), false);
        m.record(&call("gpt-4o", 0.3, 100, 20, Some(1_000_000_000), "stop"));
        m.record(&call("gpt-4o", 1.5, 50, 10, Some(500_000_000), "length"));
        let text = m.prometheus_text();
        assert!(
            text.contains("# TYPE gen_ai_client_operation_duration_seconds histogram"),
            "{text}"
        );
        assert!(text.contains("le=\"0.32\"} 1"), "{text}");
        assert!(
            text.contains(
                "gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name=\"chat\""
            ),
            "{text}"
        );
        assert!(text.contains("fivelens_llm_cost_usd_total{gen_ai_request_model=\"gpt-4o\",gen_ai_provider_name=\"openai\",deployment_environment_name=\"prod\"} 0.0015"), "{text}");
        assert!(
            text.contains("fivelens_finish_reason=\"length\"} 1"),
            "{text}"
        );
        let deltas = m.take_deltas();
        let cost = deltas.iter().find(|d| d.name == sc::METRIC_COST).unwrap();
        assert_eq!(cost.int_value, 1_500_000_000);
        assert!(m.take_deltas().is_empty(), "deltas reset");
        let req = m.to_otlp(&Resource::default(), crate::record::now_ns());
        let names: Vec<&str> = req.resource_metrics[0].scope_metrics[0]
            .metrics
            .iter()
            .map(|x| x.name.as_str())
            .collect();
        assert!(names.contains(&sc::METRIC_OPERATION_DURATION));
        assert!(names.contains(&sc::METRIC_TOKEN_USAGE));
    }

    #[test]
    fn estimated_tokens_stay_out_of_token_usage() {
        let mut m = Metrics::new(None, false);
        let mut r = call("gpt-4o", 0.1, 10, 10, None, "stop");
        r.set_attribute(Key::new(sc::FIVELENS_USAGE_ESTIMATED), Value::Bool(true));
        m.record(&r);
        assert!(!m.prometheus_text().contains("gen_ai_client_token_usage"));
        assert!(m.prometheus_text().contains("fivelens_llm_tokens_total"));
    }

    #[test]
    fn context_window_instruments() {
        let mut m = Metrics::new(None, false);
        let mut r = call("gpt-4o", 0.1, 900, 10, None, "stop");
        r.set_attribute(Key::new(sc::FIVELENS_CONTEXT_FILL), Value::F64(0.83));
        r.set_attribute(Key::new("fivelens.context.tokens.history"), Value::I64(700));
        r.set_attribute(Key::new("fivelens.context.tokens.system"), Value::I64(200));
        r.set_attribute(
            Key::new("fivelens.context.tier_tokens.open_files"),
            Value::I64(300),
        );
        r.set_attribute(Key::new(sc::FIVELENS_CONTEXT_GROWTH), Value::I64(-50));
        r.set_attribute(Key::new(sc::FIVELENS_CONTEXT_ALERT), Value::Bool(true));
        m.record(&r);
        m.record(&call("gpt-4o", 0.1, 10, 10, None, "stop"));
        let text = m.prometheus_text();
        assert!(text.contains("fivelens_context_window_fill_bucket{gen_ai_request_model=\"gpt-4o\",gen_ai_provider_name=\"openai\",le=\"0.85\"} 1"), "{text}");
        assert!(text.contains("fivelens_context_window_fill_bucket{gen_ai_request_model=\"gpt-4o\",gen_ai_provider_name=\"openai\",le=\"0.8\"} 0"), "{text}");
        assert!(text.contains("fivelens_context_window_tokens_sum{gen_ai_request_model=\"gpt-4o\",gen_ai_provider_name=\"openai\",fivelens_context_section=\"history\"} 700.0"), "{text}");
        assert!(text.contains("fivelens_context_window_tokens_by_tier_sum{gen_ai_request_model=\"gpt-4o\",gen_ai_provider_name=\"openai\",fivelens_context_tier=\"open_files\"} 300.0"), "{text}");
        assert!(text.contains("fivelens_context_window_growth_bucket{gen_ai_request_model=\"gpt-4o\",gen_ai_provider_name=\"openai\",le=\"0.0\"} 1"), "{text}");
        assert!(text.contains("fivelens_context_window_alerts_total{gen_ai_request_model=\"gpt-4o\",gen_ai_provider_name=\"openai\"} 1"), "{text}");
        // Calls without a fill (unknown model, or no input) are not counted at 0.
        assert!(text.contains("fivelens_context_window_fill_count{gen_ai_request_model=\"gpt-4o\",gen_ai_provider_name=\"openai\"} 1"), "{text}");
    }

    #[test]
    fn cardinality_is_capped() {
        let mut m = Metrics::new(None, false);
        for i in 0..(MAX_SERIES + 10) {
            m.record(&call(&format!("model-{i}"), 0.1, 1, 1, None, "stop"));
        }
        let map = &m.series[&Instrument::Duration];
        assert_eq!(map.len(), MAX_SERIES + 1);
        assert!(map.keys().any(|l| l.iter().any(|(k, _)| *k == OVERFLOW)));
    }

    #[test]
    fn quantiles_from_fine_buckets() {
        let mut m = Metrics::new(None, false);
        for i in 1..=100 {
            m.record(&call("q", i as f64 / 100.0, 1, 1, None, "stop"));
        }
        let d = m.take_deltas();
        let dur = d
            .iter()
            .find(|p| p.name == sc::METRIC_OPERATION_DURATION)
            .unwrap();
        let buckets: Vec<u64> = serde_json::from_str(dur.buckets.as_ref().unwrap()).unwrap();
        let p99 = quantile(&buckets, 0.99).unwrap();
        assert!((0.9..=1.1).contains(&p99), "{p99}");
        let p50 = quantile(&buckets, 0.5).unwrap();
        assert!((0.45..=0.55).contains(&p50), "{p50}");
    }

    fn mcp(kind: SpanKind, tool: &str, seconds: f64, error: Option<&str>) -> SpanRecord {
        let mut r = SpanRecord::start(&format!("tools/call {tool}"), kind, None);
        for (k, v) in [
            (sc::MCP_METHOD_NAME, "tools/call"),
            (sc::GEN_AI_OPERATION_NAME, "execute_tool"),
            (sc::GEN_AI_TOOL_NAME, tool),
            (sc::MCP_SESSION_ID, "session-1"),
            (sc::JSONRPC_REQUEST_ID, "7"),
            (sc::GEN_AI_TOOL_CALL_ARGUMENTS, "{\"city\":\"Paris\"}"),
            (sc::MCP_SERVER_NAME, "weather"),
            (sc::SERVER_ADDRESS, "127.0.0.1"),
            (sc::NETWORK_TRANSPORT, "pipe"),
        ] {
            r.set_attribute(Key::new(k), Value::from(v));
        }
        if let Some(e) = error {
            r.set_attribute(Key::new(sc::ERROR_TYPE), Value::from(e));
            r.status = Status::Error("failed".into());
        }
        r.end_at(Some(r.start_ns + (seconds * 1e9) as u64));
        r
    }

    #[test]
    fn mcp_requests_have_their_own_histograms_and_tool_call_counts() {
        let mut m = Metrics::new(None, false);
        m.record(&mcp(SpanKind::Client, "get_weather", 0.03, None));
        m.record(&mcp(
            SpanKind::Client,
            "get_weather",
            0.4,
            Some("tool_error"),
        ));
        m.record(&mcp(SpanKind::Server, "get_weather", 0.01, Some("-32602")));
        let mut list = SpanRecord::start("tools/list", SpanKind::Client, None);
        list.set_attribute(Key::new(sc::MCP_METHOD_NAME), Value::from("tools/list"));
        list.end_at(Some(list.start_ns + 1_000_000));
        m.record(&list);

        // Not counted as model calls.
        assert!(!m.series.contains_key(&Instrument::Duration));
        let client = &m.series[&Instrument::McpClientDuration];
        assert_eq!(client.values().map(|s| s.count).sum::<u64>(), 3);
        for labels in client.keys() {
            let keys: Vec<&str> = labels.iter().map(|(k, _)| *k).collect();
            for dropped in [
                sc::MCP_SESSION_ID,
                sc::JSONRPC_REQUEST_ID,
                sc::GEN_AI_TOOL_CALL_ARGUMENTS,
            ] {
                assert!(!keys.contains(&dropped), "{labels:?}");
            }
        }
        let failed: Vec<&Labels> = client
            .keys()
            .filter(|l| l.contains(&(sc::ERROR_TYPE, "tool_error".to_string())))
            .collect();
        assert_eq!(failed.len(), 1);
        assert!(failed[0].contains(&(sc::MCP_SERVER_NAME, "weather".to_string())));
        assert!(failed[0].contains(&(sc::NETWORK_TRANSPORT, "pipe".to_string())));
        // The 0.4 s call lands in the conventions' (0.2, 0.5] bucket.
        let s = &client[failed[0]];
        let i = sc::MCP_DURATION_BUCKETS
            .iter()
            .position(|b| *b == 0.5)
            .unwrap();
        assert_eq!(s.buckets[i], 1);

        let server = &m.series[&Instrument::McpServerDuration];
        assert_eq!(server.len(), 1);
        let labels = server.keys().next().unwrap();
        assert!(labels.contains(&(sc::ERROR_TYPE, "-32602".to_string())));
        assert!(!labels.iter().any(|(k, _)| *k == sc::SERVER_ADDRESS));

        let text = m.prometheus_text();
        assert!(
            text.contains("# TYPE mcp_client_operation_duration_seconds histogram"),
            "{text}"
        );
        assert!(text.contains("le=\"300.0\"}"), "{text}");
        assert!(text.contains("fivelens_mcp_tool_calls_total{fivelens_mcp_side=\"client\",gen_ai_tool_name=\"get_weather\",mcp_server_name=\"weather\",fivelens_outcome=\"ok\"} 1"), "{text}");
        assert!(text.contains("fivelens_mcp_tool_calls_total{fivelens_mcp_side=\"client\",gen_ai_tool_name=\"get_weather\",mcp_server_name=\"weather\",fivelens_outcome=\"error\",error_type=\"tool_error\"} 1"), "{text}");
        assert!(text.contains("fivelens_mcp_side=\"server\",gen_ai_tool_name=\"get_weather\",mcp_server_name=\"weather\",fivelens_outcome=\"error\",error_type=\"-32602\"} 1"), "{text}");
        assert!(!text.contains("tools/list\",fivelens_outcome"), "{text}");
    }

    fn tool(name: &str, seconds: f64, error: Option<&str>) -> SpanRecord {
        let mut r = SpanRecord::start(&format!("execute_tool {name}"), SpanKind::Internal, None);
        r.set_attribute(
            Key::new(sc::GEN_AI_OPERATION_NAME),
            Value::from("execute_tool"),
        );
        r.set_attribute(Key::new(sc::GEN_AI_TOOL_NAME), Value::from(name));
        r.set_attribute(Key::new(sc::GEN_AI_TOOL_TYPE), Value::from("function"));
        if let Some(e) = error {
            r.set_attribute(Key::new(sc::ERROR_TYPE), Value::from(e));
            r.status = Status::Error("failed".into());
        }
        r.end_at(Some(r.start_ns + (seconds * 1e9) as u64));
        r
    }

    #[test]
    fn tool_calls_errors_retries_and_breaker_transitions() {
        let mut m = Metrics::new(None, false);
        m.record(&tool("lookup", 0.05, None));
        m.record(&tool("lookup", 0.5, Some("TimeoutError")));
        let mut retried = tool("lookup", 0.01, Some("tool_error"));
        retried.set_attribute(Key::new(sc::FIVELENS_RETRY_ATTEMPT), Value::I64(2));
        retried.set_attribute(
            Key::new(sc::FIVELENS_RETRY_REASON),
            Value::from("TimeoutError"),
        );
        retried.set_attribute(Key::new(sc::FIVELENS_RETRY_SOURCE), Value::from("model"));
        retried.add_event(
            sc::FIVELENS_EVENT_BREAKER,
            None,
            crate::tools::transition_attributes(
                &crate::tools::Transition {
                    scope: crate::tools::Scope::Tool,
                    from: crate::tools::State::Closed,
                    to: crate::tools::State::Open,
                    calls: 20,
                    errors: 3,
                    time_ns: 1,
                },
                crate::tools::Mode::Enforce,
            ),
        );
        m.record(&retried);
        let mut rejected = tool("lookup", 0.0, Some("circuit_open"));
        rejected.set_attribute(Key::new(sc::FIVELENS_BREAKER_REJECTED), Value::Bool(true));
        m.record(&rejected);
        // An MCP client call: counted as a tool call of kind mcp, its category from the code.
        let mut mcp_call = mcp(SpanKind::Client, "get_weather", 0.02, Some("-32602"));
        mcp_call.set_attribute(
            Key::new(sc::RPC_RESPONSE_STATUS_CODE),
            Value::from("-32602"),
        );
        m.record(&mcp_call);
        // The server's handling of it is not a tool call of this process.
        m.record(&mcp(SpanKind::Server, "get_weather", 0.01, None));
        // A guard refusal event on any span.
        let mut node = SpanRecord::start("model", SpanKind::Internal, None);
        node.add_event(
            sc::FIVELENS_EVENT_GUARD,
            None,
            crate::guards::event_attributes(&crate::guards::Exceeded {
                kind: "cost",
                scope: "trace",
                limit: 0.01,
                used: 0.011,
                message: "m".into(),
            }),
        );
        node.end_at(None);
        m.record(&node);

        let text = m.prometheus_text();
        assert!(
            text.contains("# TYPE gen_ai_execute_tool_duration_seconds histogram"),
            "{text}"
        );
        let durations: u64 = m.series[&Instrument::ToolDuration]
            .values()
            .map(|s| s.count)
            .sum();
        assert_eq!(durations, 4, "rejected calls have no duration");
        for line in [
            "fivelens_tool_calls_total{gen_ai_tool_name=\"lookup\",fivelens_tool_kind=\"function\",fivelens_outcome=\"ok\"} 1",
            "fivelens_tool_calls_total{gen_ai_tool_name=\"lookup\",fivelens_tool_kind=\"function\",fivelens_outcome=\"error\"} 2",
            "fivelens_tool_calls_total{gen_ai_tool_name=\"lookup\",fivelens_tool_kind=\"function\",fivelens_outcome=\"rejected\"} 1",
            "fivelens_tool_calls_total{gen_ai_tool_name=\"get_weather\",mcp_server_name=\"weather\",fivelens_tool_kind=\"mcp\",fivelens_outcome=\"error\"} 1",
            "fivelens_tool_errors_total{gen_ai_tool_name=\"lookup\",fivelens_tool_kind=\"function\",fivelens_tool_error_category=\"timeout\"} 1",
            "fivelens_tool_errors_total{gen_ai_tool_name=\"lookup\",fivelens_tool_kind=\"function\",fivelens_tool_error_category=\"tool_error\"} 1",
            "fivelens_tool_errors_total{gen_ai_tool_name=\"get_weather\",mcp_server_name=\"weather\",fivelens_tool_kind=\"mcp\",fivelens_tool_error_category=\"validation\"} 1",
            "fivelens_tool_retries_total{gen_ai_tool_name=\"lookup\",fivelens_retry_source=\"model\",fivelens_retry_reason=\"TimeoutError\"} 1",
            "fivelens_tool_breaker_transitions_total{gen_ai_tool_name=\"lookup\",fivelens_breaker_scope=\"tool\",fivelens_breaker_mode=\"enforce\",fivelens_breaker_to=\"open\"} 1",
            "fivelens_guard_refusals_total{fivelens_guard_kind=\"cost\",fivelens_guard_scope=\"trace\"} 1",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
    }
}
