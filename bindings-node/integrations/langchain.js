'use strict'
// LangChain.js and LangGraph.js (`@langchain/core` 1.x, `@langchain/langgraph` 1.x): every run the
// app makes is seen without passing callbacks, and becomes a span in one trace per top-level run.
// The span shapes are the Python integration's (`integrations/python/langchain.py`).
//
// How it hooks in. One callback handler, shared by every copy of LangChain in the process, is
// added to every callback manager LangChain configures: `CallbackManager._configureSync` (the
// static every run goes through) is patched on both copies of the dual package, the CommonJS one
// when the app requires it and the ES module one at `instrument()` (class objects can be patched
// in place even though ES namespaces cannot). So runnables built before `instrument()` are seen
// too, and nothing depends on LangChain's AsyncLocalStorage-scoped `registerConfigureHook`, which
// async work set up earlier never sees. Bundled apps hand the modules over (`instrumentModules`).
//
// The handler is synchronous and awaited (`awaitHandlers`): LangChain calls it in the caller's
// async context, before the run's own work, so its timestamps are the run's and the provider SDK
// integrations can tell which chat-model run they serve. It never makes anything current: spans
// are built from LangChain's run tree (`runId` / `parentRunId`) with explicit parents.
//
//     app: graph.invoke()                         fivelens
//       LangChain: handleChainStart(graph)  --->    invoke_workflow {name}   (parent: the app's span)
//         node run: handleChainStart(node)  --->      {node}                 (step, triggers)
//           chat model: _generateUncached   --->        slot in fivelens's context
//             handleChatModelStart          --->          the run fills the slot
//             openai.chat.completions.create --->         chat {model}: the SDK span, the run's place
//           withSpan('lookup')              --->        lookup                 (through LangChain's
//                                                                              current run config)
//
// Spans made inside a run by the app (`withSpan`), by OpenTelemetry-instrumented libraries or by
// the provider integrations nest under that run's span: the package asks this module for the
// span of the run executing now (LangChain's AsyncLocalStorage run config), used when the app has
// not opened a span of its own inside the run (`resolveActive`).
//
// One model call is one span. A chat model's `_generateUncached` / `_streamIterator` run inside a
// "slot" put in fivelens's context; `handleChatModelStart` (which runs there) fills it with the
// chat run. A provider SDK call directly inside takes the run's place (`adopt`): its span gets the
// run's id and parent, and the chat run makes no span of its own. Otherwise (a fake model, a
// provider fivelens does not wrap) the run becomes `chat {model}` with usage from
// `usage_metadata`.
//
// A chat model invoked on its own (no parent run, no handler of the app's, nothing else asking
// for callbacks: LangChain's `_configureSync` returns no manager once fivelens stays out of it)
// makes its span in the `_generateUncached` wrapper instead: LangChain's callback machinery
// (run ids, serialising the model, dispatch) stays off, as it is without fivelens. The span is
// the same; it has no `fivelens.framework.run_id`, as LangChain made no run. Model spans hand
// their messages, output and usage to the core as one `langchain.chat` payload (LangChain's own
// fields, by reference; serialised once with the span batch and mapped on the core's thread).
//
// The tool boundary: `StructuredTool.prototype.call` (every tool run, `invoke` included) asks the
// circuit breaker first. A call its open breaker rejects (`enforce`) runs LangChain's own `call`
// with a body that returns the degraded-mode message, and the ToolMessage it makes for a tool
// call is marked `status: 'error'`: the model receives the error as LangChain returns tool
// results, whatever the ToolNode's error handling. The breaker's answer reaches the handler's
// `handleToolStart` (which runs inside `call`) through an AsyncLocalStorage.
//
// Chain inputs and outputs are serialised only with `captureChainIo`. LangChain runs callbacks
// of other handlers in the background (a queue per copy of LangChain); `flush()` waits for them
// (`awaitAllCallbacks`), so a serverless function that flushes before returning loses nothing.

const fs = require('node:fs')
const path = require('node:path')
const { AsyncLocalStorage } = require('node:async_hooks')
const sc = require('../lib/semconv')
const { state } = require('../lib/state')
const { store } = require('../lib/context')
const ids = require('../lib/ids')
const { startCall, toJson, report } = require('../lib/llm')
const tools = require('../lib/tools')
const stainless = require('./stainless')

const INSTRUMENTATION = 'fivelens.langchain'
const ORIGINAL = stainless.ORIGINAL

/** LangChain's `ls_provider` values as the conventions' `gen_ai.provider.name`. @type {Record<string, string>} */
const PROVIDERS = {
  openai: 'openai',
  anthropic: 'anthropic',
  azure: 'azure.ai.openai',
  azure_openai: 'azure.ai.openai',
  google_genai: 'gcp.gen_ai',
  google_vertexai: 'gcp.vertex_ai',
  google_anthropic_vertex: 'gcp.vertex_ai',
  bedrock: 'aws.bedrock',
  amazon_bedrock: 'aws.bedrock',
  bedrock_converse: 'aws.bedrock',
  mistralai: 'mistral_ai',
  groq: 'groq',
  cohere: 'cohere',
  deepseek: 'deepseek',
  xai: 'x_ai',
  perplexity: 'perplexity',
  ollama: 'ollama',
  ibm: 'ibm.watsonx.ai',
}

/** Runs tracked at once: a run that never ends (an abandoned stream) must not grow this forever. */
const MAX_RUNS = 50000
const MAX_INTERRUPTED = 10000

/** LangChain's process-wide AsyncLocalStorage (shared by its copies and langsmith), and the key of the current run's config in it. */
const LC_ALS = Symbol.for('ls:tracing_async_local_storage')
const LC_CHILD_CONFIG = Symbol.for('lc:child_config')
/** Shared by every copy of fivelens: one handler, one run table. */
const SHARED = Symbol.for('fivelens.langchain.v1')

const INVALID_CONTEXT = Object.freeze({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0, isRemote: false })

/** One LangChain run in progress. */
class Run {
  /**
   * @param {string} id
   * @param {string} kind `chain`, `node`, `workflow`, `agent`, `chat`, `text_completion`, `tool`, `retriever`
   * @param {string} name
   * @param {any} frame the app's active span when the run started (a slot seen through)
   * @param {any} parent the explicit parent of its span (undefined: the active one)
   * @param {Run | null} root
   */
  constructor(id, kind, name, frame, parent, root) {
    this.id = id
    this.kind = kind
    this.name = name
    this.frame = frame
    this.parent = parent
    /** @type {Run} */
    this.root = root || this
    /** @type {any} */
    this.span = null
    /** The parent its children get. @type {any} */
    this.effective = parent
    /** The LangGraph node run it belongs to. @type {Run | null} */
    this.node = null
    this.start = ids.now()
    this.open = true
    this.covered = false
    this.firstToken = 0
    /** @type {any} */
    this.messages = null
    /** @type {any} */
    this.metadata = null
    this.maxStep = 0
    this.interrupted = false
    /** On a root run: one of its runs timed out (LangGraph then ends it with `Error('Abort')`). */
    this.timedOut = false
    /** Root only: tool name -> [attempt, last error type or null]. @type {Map<string, [number, string | null]> | null} */
    this.tools = null
    /** Tool runs: an MCP call made inside took this run's span (see `currentToolSpan`). */
    this.mcp = false
    /** Tool runs: the circuit breaker's answer. @type {any} */
    this.boundary = null
  }
}

/**
 * Where a chat model's own code runs (`_generateUncached`, `_streamIterator`): put in fivelens's
 * context, filled by the chat run that starts inside it. Looks like a span to whoever reads the
 * context (the OpenTelemetry API, a propagator): its span context is the one a span started here
 * nests under.
 */
class ModelCallSlot {
  /** @param {any} outer the active span when the model was called */
  constructor(outer) {
    this.outer = outer
    /** @type {Run | null} */
    this.run = null
    this.many = false
  }

  /** @param {Run} run */
  fill(run) {
    if (this.run && this.run !== run) this.many = true
    else this.run = run
  }

  spanContext() {
    const p = resolveActive(this)
    return p && typeof p.spanContext === 'function' ? p.spanContext() : INVALID_CONTEXT
  }
  isRecording() {
    return false
  }
  setAttribute() {
    return this
  }
  setAttributes() {
    return this
  }
  addEvent() {
    return this
  }
  addLink() {
    return this
  }
  addLinks() {
    return this
  }
  setStatus() {
    return this
  }
  updateName() {
    return this
  }
  recordException() {}
  end() {}
}

/**
 * The integration's process-wide state.
 * @returns {{enabled: boolean, capture: boolean, captureChainIo: boolean, collapseChains: boolean, runs: Map<string, Run>, interrupted: Map<string, any>, handler: any, flushers: Set<() => Promise<any>>, pending: AsyncLocalStorage<any>, direct: {claimed: boolean} | null}}
 */
function shared() {
  const g = /** @type {any} */ (globalThis)
  if (!g[SHARED]) {
    g[SHARED] = {
      enabled: false,
      capture: false,
      captureChainIo: false,
      collapseChains: false,
      runs: new Map(),
      interrupted: new Map(),
      handler: null,
      flushers: new Set(),
      /** The model call being started with no callbacks (see patchModel). @type {{claimed: boolean} | null} */
      direct: null,
    }
  }
  // The breaker's answer for the tool run starting in this async context (see patchTool).
  g[SHARED].pending ||= new AsyncLocalStorage()
  return g[SHARED]
}

/** @param {string} what @param {any} e */
function problem(what, e) {
  report(`integration: langchain: ${what}: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' ') : e}`)
}

const recording = () => shared().enabled && state().recording

/** Whether content is captured (read from the core once, when the integration is configured). */
const captureContent = () => shared().capture

// ---- the run executing now -----------------------------------------------------------------------

/** The id of the LangChain run whose code is executing now (from LangChain's run config), if any. */
function currentRunId() {
  const als = /** @type {any} */ (globalThis)[LC_ALS]
  if (!als) return undefined
  const current = als.getStore()
  const config = current && current.extra ? current.extra[LC_CHILD_CONFIG] : undefined
  const callbacks = config && config.callbacks
  return callbacks && !Array.isArray(callbacks) ? callbacks._parentRunId : undefined
}

/**
 * The span a new span nests under, given the active one: the span of the LangChain run executing
 * now when the app has not opened a span of its own inside it; a slot is seen through.
 * @param {any} active
 * @returns {any}
 */
function resolveActive(active) {
  while (active instanceof ModelCallSlot) {
    const run = active.run
    if (run && !active.many) {
      if (run.effective) return run.effective
    }
    active = active.outer
  }
  const runId = currentRunId()
  if (runId === undefined) return active
  const run = shared().runs.get(runId)
  if (run === undefined || run.frame !== active) return active
  return run.effective || active
}

/**
 * The span of the tool run `name` executing now, the first time it is asked for: an MCP
 * `tools/call` of that tool made inside it adds the MCP attributes to this span instead of making
 * a second one (the MCP conventions' rule; see integrations/mcp.js). Null when no such tool run
 * is executing, when the app opened a span of its own inside it (that span is the parent), or when
 * an MCP call already took it.
 * @param {string} name
 * @returns {any}
 */
function currentToolSpan(name) {
  if (!recording()) return null
  const runId = currentRunId()
  const run = runId === undefined ? undefined : shared().runs.get(runId)
  if (run === undefined || run.kind !== 'tool' || run.name !== name || !run.span || !run.open || run.mcp) return null
  let active = store().activeSpan()
  while (active instanceof ModelCallSlot) active = active.outer
  if (active !== run.frame) return null
  run.mcp = true
  return run.span
}

/**
 * Called by a provider SDK call starting without an explicit parent: the chat-model run it
 * serves, if that run is open and the call is directly inside it (the SDK's span takes the run's
 * place and carries its id).
 * @returns {Record<string, any> | null}
 */
function adopt() {
  const slot = store().activeSpan()
  if (!(slot instanceof ModelCallSlot) || slot.many) return null
  const run = slot.run
  if (!run || !run.open || run.covered) return null
  run.covered = true
  return { [sc.FIVELENS_FRAMEWORK]: framework(run), [sc.FIVELENS_RUN_ID]: run.id }
}

// ---- helpers -------------------------------------------------------------------------------------

/** @param {Run} run */
const framework = (run) => (run.root.kind === 'workflow' || run.root.kind === 'agent' ? 'langgraph' : 'langchain')

/** @param {Run} run */
function track(run) {
  const runs = shared().runs
  runs.set(run.id, run)
  if (runs.size > MAX_RUNS) {
    const oldest = runs.keys().next().value
    if (oldest !== undefined) {
      const stale = runs.get(oldest)
      runs.delete(oldest)
      if (stale && stale.span) stale.span.end()
    }
  }
}

/**
 * A run starting now: its frame and the parent of its span.
 * @param {string} runId
 * @param {string | undefined} parentRunId
 * @param {string} kind
 * @param {string} name
 */
function startRun(runId, parentRunId, kind, name) {
  const runs = shared().runs
  const parentRun = parentRunId ? runs.get(parentRunId) : undefined
  let frame = store().activeSpan()
  while (frame instanceof ModelCallSlot) frame = frame.outer
  /** @type {any} */
  let parent
  if (parentRun !== undefined && (parentRun.frame === frame || frame === undefined || frame === null)) {
    parent = parentRun.effective
  } else {
    // Not in the parent run's own frame: the app opened a span inside it (or the parent is not
    // known): the active span is the parent.
    parent = frame
  }
  const run = new Run(String(runId), kind, name, frame, parent, parentRun ? parentRun.root : null)
  if (parentRun) run.node = parentRun.node
  return run
}

/** @param {any} error */
function errorType(error) {
  if (error && typeof error === 'object') {
    const ctor = error.constructor && error.constructor.name
    // A DOMException's class says nothing; its name does (`AbortError`, `TimeoutError`).
    if (ctor === 'DOMException' && typeof error.name === 'string' && error.name) return error.name
    return ctor && ctor !== 'Object' ? ctor : String(error.name || 'Error')
  }
  return typeof error
}

/**
 * @param {any} span
 * @param {any} error
 */
function fail(span, error) {
  span.setAttribute(sc.ERROR_TYPE, errorType(error))
  span.setStatus('error', String(error && typeof error === 'object' ? error.message ?? '' : error).slice(0, 1024))
}

/**
 * An abort by the app (`AbortError`: a stream it stopped reading, or its own signal), as opposed
 * to a timeout or a failure.
 * @param {any} error
 */
function isCancel(error) {
  return Boolean(error) && typeof error === 'object' && error.name === 'AbortError'
}

/**
 * LangGraph's own `Error('Abort')`, which ends a graph run whose signal fired: the app's abort
 * (or its stream broken out of), or a step timeout, which its nodes see as `TimeoutError`.
 * @param {any} error
 */
function isAbortMarker(error) {
  return error instanceof Error && error.constructor === Error && error.message === 'Abort'
}

/** @param {any} error */
function isInterrupt(error) {
  if (!error || typeof error !== 'object') return false
  for (let c = error.constructor; c && c !== Error && c !== Object; c = Object.getPrototypeOf(c)) {
    if (c.name === 'GraphInterrupt' || c.name === 'NodeInterrupt') return true
  }
  return error.name === 'GraphInterrupt' || error.name === 'NodeInterrupt'
}

/** @param {any} metadata */
function threadId(metadata) {
  const tid = metadata ? metadata.thread_id : undefined
  return tid === undefined || tid === null ? null : String(tid)
}

/**
 * The text of message content: a string, or the text blocks of a list.
 * @param {any} content
 * @returns {string}
 */
function text(content) {
  if (typeof content === 'string') return content
  if (Array.isArray(content)) {
    let out = ''
    for (const block of content) {
      if (typeof block === 'string') out += block
      else if (block && typeof block === 'object' && block.type === 'text') out += String(block.text ?? '')
    }
    return out
  }
  return content === undefined || content === null ? '' : String(content)
}

/** @param {any} m */
const messageType = (m) => (m && typeof m._getType === 'function' ? m._getType() : m && m.type)

/**
 * JSON of chain inputs and outputs; LangChain messages as their type and content (not their
 * serialisation envelope). Cycles and the like: the package's safe JSON.
 * @param {any} value
 */
function chainJson(value) {
  try {
    return JSON.stringify(value, chainValue) ?? 'null'
  } catch {
    return toJson(value)
  }
}

/**
 * @this {any}
 * @param {string} key
 * @param {any} v
 */
function chainValue(key, v) {
  const raw = this[key]
  if (raw && typeof raw === 'object' && typeof raw._getType === 'function' && 'content' in raw) {
    /** @type {Record<string, any>} */
    const out = { type: raw._getType(), content: raw.content }
    if (raw.name) out.name = raw.name
    if (raw.tool_calls && raw.tool_calls.length) out.tool_calls = raw.tool_calls
    if (raw.tool_call_id) out.tool_call_id = raw.tool_call_id
    return out
  }
  return typeof v === 'bigint' ? v.toString() : v
}

/**
 * The agent's reasoning journal: what the model said and chose, as events on the iteration
 * (node) span. Content, so only built when it is captured.
 * @param {Run | null} node
 * @param {any} msg
 */
function journal(node, msg) {
  if (!node || !node.span || !msg || !captureContent()) return
  const now = ids.now()
  const t = text(msg.content)
  const calls = msg.tool_calls || []
  if (t) node.span.addEvent(sc.FIVELENS_EVENT_AGENT_STEP, { [sc.FIVELENS_STEP_KIND]: calls.length ? 'thought' : 'final', [sc.FIVELENS_STEP_CONTENT]: t }, now)
  for (const call of calls) {
    node.span.addEvent(
      sc.FIVELENS_EVENT_AGENT_STEP,
      {
        [sc.FIVELENS_STEP_KIND]: 'action',
        [sc.GEN_AI_TOOL_NAME]: String(call.name),
        [sc.FIVELENS_STEP_CONTENT]: toJson({ tool: call.name, arguments: call.args }),
      },
      now,
    )
  }
}

/** `api.startSpan`, looked up on first use. @type {any} */
let startSpanFn = null

/**
 * @param {string} name
 * @param {'internal' | 'client'} kind
 * @param {any} parent
 * @param {Record<string, any>} attributes
 */
function startSpan(name, kind, parent, attributes) {
  return (startSpanFn ||= require('../lib/api').startSpan)(name, { kind, parent: parent || undefined, attributes, instrumentation: INSTRUMENTATION })
}

/** @param {any} serialized @param {any} runName @param {string} fallback */
function runNameOf(serialized, runName, fallback) {
  if (typeof runName === 'string' && runName) return runName
  if (serialized && typeof serialized.name === 'string' && serialized.name) return serialized.name
  const id = serialized && serialized.id
  if (Array.isArray(id) && id.length) return String(id[id.length - 1])
  return fallback
}

// ---- chains ---------------------------------------------------------------------------------------

/**
 * @param {any} serialized
 * @param {any} inputs
 * @param {string} runId
 * @param {string | undefined} parentRunId
 * @param {string[] | undefined} tags
 * @param {Record<string, any> | undefined} metadata
 * @param {any} runName
 */
function chainStart(serialized, inputs, runId, parentRunId, tags, metadata, runName) {
  const st = shared()
  const name = runNameOf(serialized, runName, 'chain')
  const md = metadata || {}
  const run = startRun(runId, parentRunId, 'chain', name)
  /** @type {Record<string, any>} */
  const attrs = { [sc.FIVELENS_RUN_ID]: run.id, [sc.FIVELENS_RUN_TYPE]: 'chain' }
  const isRoot = run.root === run
  const step = md.langgraph_step
  const taggedStep = Array.isArray(tags) && tags.some((t) => typeof t === 'string' && t.startsWith('graph:step:'))
  const isNode = !isRoot && Number.isInteger(step) && md.langgraph_node === name && taggedStep
  const hidden = !isRoot && Array.isArray(tags) && tags.includes('langsmith:hidden')
  let spanName = name
  if (isRoot) {
    const integration = md.ls_integration
    if (integration === 'langchain_create_agent' || md.fivelens_agent || md.lc_agent_name) {
      run.kind = 'agent'
      spanName = `invoke_agent ${name}`
      attrs[sc.GEN_AI_OPERATION_NAME] = 'invoke_agent'
      attrs[sc.GEN_AI_AGENT_NAME] = name
    } else if (integration === 'langgraph') {
      run.kind = 'workflow'
      spanName = `invoke_workflow ${name}`
      attrs[sc.GEN_AI_OPERATION_NAME] = 'invoke_workflow'
      attrs[sc.GEN_AI_WORKFLOW_NAME] = name
    }
    run.tools = new Map()
    run.metadata = md
    const tid = run.kind !== 'chain' ? threadId(md) : null
    if (tid !== null && !run.parent) {
      // Resuming a run that stopped at an interrupt: continue its trace.
      const resumed = st.interrupted.get(tid)
      if (resumed !== undefined) {
        st.interrupted.delete(tid)
        run.parent = run.effective = resumed
      }
    }
  } else if (hidden) {
    // LangGraph's hidden `__start__` task (input plumbing): no span; children move up.
    track(run)
    return
  } else if (isNode) {
    run.kind = 'node'
    run.node = run
    attrs[sc.FIVELENS_LANGGRAPH_STEP] = step
    attrs[sc.FIVELENS_AGENT_ITERATION] = step
    attrs[sc.FIVELENS_LANGGRAPH_NODE] = name
    const triggers = md.langgraph_triggers
    if (Array.isArray(triggers) && triggers.length) attrs[sc.FIVELENS_LANGGRAPH_TRIGGERS] = triggers.map(String)
    if (step > run.root.maxStep) run.root.maxStep = step
  } else if (st.collapseChains) {
    // Plumbing: no span; children move up.
    track(run)
    return
  }
  attrs[sc.FIVELENS_FRAMEWORK] = framework(run)
  if (st.captureChainIo && inputs !== undefined && inputs !== null && captureContent()) attrs[sc.FIVELENS_CHAIN_INPUT] = chainJson(inputs)
  run.span = startSpan(spanName, 'internal', run.parent, attrs)
  run.effective = run.span
  track(run)
  if (isNode) tools.noteIteration(run.span, step)
}

/**
 * @param {string} runId
 * @param {any} outputs
 * @param {any} error
 */
function chainEnd(runId, outputs, error) {
  const st = shared()
  const run = st.runs.get(runId)
  if (run === undefined) return
  st.runs.delete(runId)
  run.open = false
  const span = run.span
  if (!span) return
  if (error !== undefined) {
    if (error && error.name === 'TimeoutError') run.root.timedOut = true
    if (isCancel(error) || (isAbortMarker(error) && !run.root.timedOut)) {
      // The app broke out of the run's stream (LangChain aborts what is still running) or
      // aborted it with its own signal: not a failure.
      span.setAttribute(sc.FIVELENS_RUN_CANCELLED, true)
    } else if (isInterrupt(error)) {
      run.interrupted = run.root.interrupted = true
      span.setAttribute(sc.FIVELENS_LANGGRAPH_INTERRUPTED, true)
    } else {
      fail(span, error)
    }
  } else if (st.captureChainIo && outputs !== undefined && outputs !== null && captureContent()) {
    span.setAttribute(sc.FIVELENS_CHAIN_OUTPUT, chainJson(outputs))
  }
  if (run.root === run) {
    if (run.maxStep) span.setAttribute(sc.FIVELENS_AGENT_ITERATIONS, run.maxStep)
    if (outputs && typeof outputs === 'object' && outputs.__interrupt__) run.interrupted = true
    if (run.interrupted) {
      span.setAttribute(sc.FIVELENS_LANGGRAPH_INTERRUPTED, true)
      const tid = threadId(run.metadata)
      if (tid !== null) {
        st.interrupted.delete(tid)
        st.interrupted.set(tid, span)
        if (st.interrupted.size > MAX_INTERRUPTED) {
          const oldest = st.interrupted.keys().next().value
          if (oldest !== undefined) st.interrupted.delete(oldest)
        }
      }
    }
  }
  span.end()
}

// ---- model runs ----------------------------------------------------------------------------------

/**
 * @param {string} runId
 * @param {string | undefined} parentRunId
 * @param {'chat' | 'text_completion'} operation
 * @param {any} messages
 * @param {any} metadata
 * @param {any} runName
 */
function modelStart(runId, parentRunId, operation, messages, metadata, runName) {
  const run = startRun(runId, parentRunId, operation, String(runName || operation))
  run.metadata = metadata
  run.messages = messages
  run.effective = run.parent
  track(run)
  // Seen by the provider SDK call inside the run: the slot the model's own code runs in.
  const slot = store().activeSpan()
  if (slot instanceof ModelCallSlot) slot.fill(run)
}

/**
 * @param {string} runId
 * @param {any} output
 * @param {any} error
 */
function modelEnd(runId, output, error) {
  const st = shared()
  const run = st.runs.get(runId)
  if (run === undefined) return
  st.runs.delete(runId)
  modelSpan(run, run.metadata || {}, output, error)
}

/**
 * A LangChain message as the core's `langchain.chat` payload takes it: LangChain's own fields,
 * copied by reference (the core maps them to the conventions' shape on its thread).
 * @param {any} m
 */
function lcMessage(m) {
  if (!m || typeof m !== 'object') return { type: 'human', content: m === undefined || m === null ? '' : String(m) }
  return {
    type: messageType(m),
    role: m.role,
    content: m.content,
    tool_calls: m.tool_calls && m.tool_calls.length ? m.tool_calls : undefined,
    tool_call_id: m.tool_call_id,
    name: m.name || undefined,
  }
}

/**
 * The span of a model run that ended (unless a provider SDK call inside made it): one CLIENT
 * span `chat {model}`. The messages, the output and the usage go to the core as a `langchain.chat`
 * payload, mapped on its thread.
 * @param {Run} run
 * @param {any} md the run's metadata (LangChain's `ls_*` parameters)
 * @param {any} output
 * @param {any} error
 */
function modelSpan(run, md, output, error) {
  run.open = false
  /** @type {any} */
  let generation = null
  /** @type {any} */
  let msg = null
  if (output && Array.isArray(output.generations) && Array.isArray(output.generations[0])) {
    generation = output.generations[0][0] || null
    msg = generation ? generation.message || null : null
  }
  journal(run.node, msg)
  if (run.covered) return // the provider SDK's span is this call's span
  const responseMd = (msg && msg.response_metadata) || {}
  let model = md.ls_model_name
  if (!model) model = responseMd.model_name || responseMd.model
  const provider = String(md.ls_provider || 'langchain')
  /** @type {Record<string, any>} */
  const attrs = { [sc.FIVELENS_FRAMEWORK]: framework(run) }
  if (run.id) attrs[sc.FIVELENS_RUN_ID] = run.id
  if (typeof md.ls_temperature === 'number') attrs[sc.GEN_AI_REQUEST_TEMPERATURE] = md.ls_temperature
  if (typeof md.ls_max_tokens === 'number') attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] = md.ls_max_tokens
  const call = startCall(run.kind, PROVIDERS[provider] || provider, model ? String(model) : null, attrs, INSTRUMENTATION, run.parent || null)
  call.span._start = run.start
  if (run.firstToken) call.setAttribute(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, (run.firstToken - run.start) / 1000)
  try {
    if (run.kind === 'chat') {
      const batch = Array.isArray(run.messages) && Array.isArray(run.messages[0]) ? run.messages[0] : []
      call._format = 'langchain.chat'
      call._request = { messages: batch.map(lcMessage) }
    } else if (Array.isArray(run.messages) && run.messages.length) {
      call.setInput(String(run.messages[0]))
    }
  } catch (e) {
    problem("reading a model run's input", e)
  }
  if (error !== undefined) {
    call.fail(error)
    call.end()
    return
  }
  if (msg) {
    const reason = responseMd.finish_reason || responseMd.stop_reason
    if (run.kind === 'chat') {
      const usage = msg.usage_metadata
      call._response = { message: lcMessage(msg), finish_reason: reason ? String(reason) : undefined, usage: usage && typeof usage === 'object' ? usage : undefined }
    } else {
      call.setOutput(text(msg.content), { finishReasons: reason ? [String(reason)] : undefined })
    }
    const id = typeof msg.id === 'string' && (msg.id.startsWith('chatcmpl') || msg.id.startsWith('msg_')) ? msg.id : null
    call.setResponse({ id, model: responseMd.model_name || responseMd.model, finishReasons: reason ? [String(reason)] : null })
  } else if (generation) {
    call.setOutput(String(generation.text ?? ''))
  }
  call.end()
}

// ---- tools and retrievers -------------------------------------------------------------------------

/**
 * @param {any} serialized
 * @param {any} input
 * @param {string} runId
 * @param {string | undefined} parentRunId
 * @param {any} runName
 * @param {any} toolCallId
 */
function toolStart(serialized, input, runId, parentRunId, runName, toolCallId) {
  const name = runNameOf(serialized, runName, 'tool')
  const run = startRun(runId, parentRunId, 'tool', name)
  /** @type {Record<string, any>} */
  const attrs = {
    [sc.GEN_AI_OPERATION_NAME]: 'execute_tool',
    [sc.GEN_AI_TOOL_NAME]: name,
    [sc.GEN_AI_TOOL_TYPE]: 'function',
    [sc.FIVELENS_FRAMEWORK]: framework(run),
    [sc.FIVELENS_RUN_ID]: run.id,
    [sc.FIVELENS_RUN_TYPE]: 'tool',
  }
  if (serialized && typeof serialized.description === 'string' && serialized.description) attrs[sc.GEN_AI_TOOL_DESCRIPTION] = serialized.description
  if (toolCallId) attrs[sc.GEN_AI_TOOL_CALL_ID] = String(toolCallId)
  const attempts = run.root.tools
  if (attempts) {
    const [attempt, lastError] = attempts.get(name) || [0, null]
    if (lastError !== null) {
      // The same tool again after it failed in this run: a retry (by the model).
      attrs[sc.FIVELENS_RETRY_ATTEMPT] = attempt + 1
      attrs[sc.FIVELENS_RETRY_REASON] = lastError
      attrs[sc.FIVELENS_RETRY_SOURCE] = 'model'
      attempts.set(name, [attempt + 1, lastError])
    } else {
      attempts.set(name, [1, null])
    }
  }
  if (captureContent() && input !== undefined && input !== null) attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = typeof input === 'string' ? input : toJson(input)
  let boundary = shared().pending.getStore()
  if (boundary && boundary.name === name && !boundary.taken) boundary.taken = true
  else boundary = tools.Boundary.admit(name) // a tool run not through StructuredTool.call
  run.boundary = boundary
  Object.assign(attrs, boundary.attributes())
  run.span = startSpan(`execute_tool ${name}`, 'internal', run.parent, attrs)
  run.effective = run.span
  boundary.start(run.span)
  track(run)
}

/**
 * @param {string} runId
 * @param {any} output
 * @param {any} error
 */
function toolEnd(runId, output, error) {
  const st = shared()
  const run = st.runs.get(runId)
  if (run === undefined) return
  st.runs.delete(runId)
  run.open = false
  const span = run.span
  if (!span) return
  /** @type {string | null} */
  let failed = null
  const boundary = run.boundary
  const rejected = !!(boundary && boundary.rejected)
  if (isCancel(error)) {
    // Aborted by the app (see chainEnd): not a failure, of the call or of the tool.
    span.setAttribute(sc.FIVELENS_RUN_CANCELLED, true)
    if (boundary) boundary.finish(span)
  } else if (error !== undefined) {
    failed = errorType(error)
    fail(span, error)
    if (boundary) boundary.finish(span, { error })
  } else {
    let content = output
    if (output && typeof output === 'object') {
      if (output.tool_call_id) span.setAttribute(sc.GEN_AI_TOOL_CALL_ID, String(output.tool_call_id))
      if ('content' in output) {
        content = output.content
        if (output.status === 'error' && !rejected) {
          // An error the tool returned: the call failed, whatever the framework counts it as.
          failed = 'tool_error'
          span.setAttribute(sc.ERROR_TYPE, failed)
          span.setStatus('error', text(content).slice(0, 1024))
        }
      }
    }
    // Not made: its breaker is open; the model got the degraded-mode error as the result.
    if (rejected) failed = tools.CIRCUIT_OPEN
    if (boundary) boundary.finish(span, { payload: failed !== null })
    if (captureContent()) {
      span.setAttribute(sc.GEN_AI_TOOL_CALL_RESULT, typeof content === 'string' ? content : toJson(content))
      const node = run.node
      if (node && node.span) {
        node.span.addEvent(
          sc.FIVELENS_EVENT_AGENT_STEP,
          {
            [sc.FIVELENS_STEP_KIND]: 'observation',
            [sc.GEN_AI_TOOL_NAME]: run.name,
            [sc.FIVELENS_STEP_CONTENT]: content && typeof content === 'object' && !Array.isArray(content) ? toJson(content) : text(content),
          },
          ids.now(),
        )
      }
    }
  }
  const attempts = run.root.tools
  if (attempts) {
    const [attempt] = attempts.get(run.name) || [1, null]
    attempts.set(run.name, [attempt, failed])
  }
  span.end()
}

/**
 * @param {any} serialized
 * @param {any} query
 * @param {string} runId
 * @param {string | undefined} parentRunId
 * @param {any} runName
 */
function retrieverStart(serialized, query, runId, parentRunId, runName) {
  const name = runNameOf(serialized, runName, 'retriever')
  const run = startRun(runId, parentRunId, 'retriever', name)
  /** @type {Record<string, any>} */
  const attrs = {
    [sc.GEN_AI_OPERATION_NAME]: 'retrieval',
    [sc.GEN_AI_DATA_SOURCE_ID]: name,
    [sc.FIVELENS_FRAMEWORK]: framework(run),
    [sc.FIVELENS_RUN_ID]: run.id,
    [sc.FIVELENS_RUN_TYPE]: 'retriever',
  }
  if (captureContent()) attrs[sc.GEN_AI_RETRIEVAL_QUERY_TEXT] = String(query)
  run.span = startSpan(`retrieval ${name}`, 'client', run.parent, attrs)
  run.effective = run.span
  track(run)
}

/**
 * @param {string} runId
 * @param {any} documents
 * @param {any} error
 */
function retrieverEnd(runId, documents, error) {
  const st = shared()
  const run = st.runs.get(runId)
  if (run === undefined) return
  st.runs.delete(runId)
  run.open = false
  if (!run.span) return
  if (error !== undefined) {
    fail(run.span, error)
  } else if (Array.isArray(documents) && captureContent()) {
    const docs = documents.map((d) => {
      /** @type {Record<string, any>} */
      const entry = {}
      if (d && d.id !== undefined && d.id !== null) entry.id = String(d.id)
      const score = d && d.metadata ? d.metadata.score : undefined
      if (typeof score === 'number') entry.score = score
      return entry
    })
    run.span.setAttribute(sc.GEN_AI_RETRIEVAL_DOCUMENTS, toJson(docs))
  }
  run.span.end()
}

// ---- the handler ---------------------------------------------------------------------------------

/**
 * Runs a handler's work; a failure is reported (`status().internal_errors`), never thrown into
 * LangChain.
 * @param {string} name
 * @param {() => void} work
 */
function guarded(name, work) {
  try {
    work()
  } catch (e) {
    problem(name, e)
  }
}

/**
 * fivelens's LangChain callback handler, added to every callback manager. The methods take
 * LangChain's runtime argument order (which differs from its type declarations for
 * `handleChainStart`); each is synchronous, never throws, and returns nothing.
 */
class FivelensCallbackHandler {
  constructor() {
    this.name = 'fivelens_callback_handler'
    this.lc_serializable = false
    this.ignoreLLM = false
    this.ignoreChain = false
    this.ignoreAgent = false
    this.ignoreRetriever = false
    this.ignoreCustomEvent = true
    this.raiseError = false
    // Called in the caller's context, before the run's own work (see the top of this file).
    this.awaitHandlers = true
  }
  copy() {
    return this
  }
  toJSON() {
    return { lc: 1, type: 'not_implemented', id: ['fivelens', 'FivelensCallbackHandler'] }
  }
  /** @param {any[]} a */
  handleChainStart(...a) {
    if (recording()) guarded('handleChainStart', () => chainStart(a[0], a[1], a[2], a[3], a[4], a[5], a[7]))
  }
  /** @param {any} outputs @param {string} runId */
  handleChainEnd(outputs, runId) {
    guarded('handleChainEnd', () => chainEnd(runId, outputs, undefined))
  }
  /** @param {any} error @param {string} runId */
  handleChainError(error, runId) {
    guarded('handleChainError', () => chainEnd(runId, undefined, error ?? null))
  }
  /** @param {any[]} a */
  handleChatModelStart(...a) {
    if (recording()) guarded('handleChatModelStart', () => modelStart(a[2], a[3], 'chat', a[1], a[6], a[7]))
  }
  /** @param {any[]} a */
  handleLLMStart(...a) {
    if (recording()) guarded('handleLLMStart', () => modelStart(a[2], a[3], 'text_completion', a[1], a[6], a[7]))
  }
  /** @param {any} _token @param {any} _idx @param {string} runId */
  handleLLMNewToken(_token, _idx, runId) {
    const run = shared().runs.get(runId)
    if (run !== undefined && !run.firstToken) run.firstToken = ids.now()
  }
  /** @param {any} output @param {string} runId */
  handleLLMEnd(output, runId) {
    guarded('handleLLMEnd', () => modelEnd(runId, output, undefined))
  }
  /** @param {any} error @param {string} runId */
  handleLLMError(error, runId) {
    guarded('handleLLMError', () => modelEnd(runId, undefined, error ?? null))
  }
  /** @param {any[]} a */
  handleToolStart(...a) {
    if (recording()) guarded('handleToolStart', () => toolStart(a[0], a[1], a[2], a[3], a[6], a[7]))
  }
  /** @param {any} output @param {string} runId */
  handleToolEnd(output, runId) {
    guarded('handleToolEnd', () => toolEnd(runId, output, undefined))
  }
  /** @param {any} error @param {string} runId */
  handleToolError(error, runId) {
    guarded('handleToolError', () => toolEnd(runId, undefined, error ?? null))
  }
  /** @param {any[]} a */
  handleRetrieverStart(...a) {
    if (recording()) guarded('handleRetrieverStart', () => retrieverStart(a[0], a[1], a[2], a[3], a[6]))
  }
  /** @param {any} documents @param {string} runId */
  handleRetrieverEnd(documents, runId) {
    guarded('handleRetrieverEnd', () => retrieverEnd(runId, documents, undefined))
  }
  /** @param {any} error @param {string} runId */
  handleRetrieverError(error, runId) {
    guarded('handleRetrieverError', () => retrieverEnd(runId, undefined, error ?? null))
  }
}

function handler() {
  const st = shared()
  return (st.handler ||= new FivelensCallbackHandler())
}

// ---- patches --------------------------------------------------------------------------------------

/**
 * `CallbackManager._configureSync`: the manager LangChain makes for every run gets the handler
 * (a manager is made when there was none).
 * @param {any} CallbackManager
 * @returns {boolean}
 */
function patchCallbackManager(CallbackManager) {
  if (typeof CallbackManager !== 'function' || typeof CallbackManager._configureSync !== 'function') return false
  const original = CallbackManager._configureSync
  if (original[ORIGINAL]) return true
  /** @this {any} */
  const configureSync = function (/** @type {any[]} */ ...args) {
    if (!recording()) return original.apply(this, args)
    const h = handler()
    // Given as an inheritable handler, so that the manager is made (with the run's tags and
    // metadata) even when the run has no other handler.
    const inheritable = args[0]
    const direct = shared().direct
    if (direct !== null && !direct.claimed && isEmpty(inheritable) && isEmpty(args[1])) {
      // A model call with no callbacks at all (see `patchModel`): LangChain's own answer, no
      // manager unless something else wants one (LangSmith tracing, verbose).
      shared().direct = null
      const manager = original.apply(this, args)
      if (manager === undefined || manager === null) {
        direct.claimed = true
        return manager
      }
      try {
        if (Array.isArray(manager.handlers) && !manager.handlers.includes(h)) manager.addHandler(h, true)
      } catch (e) {
        problem('adding the callback handler', e)
      }
      return manager
    }
    if (inheritable === undefined || inheritable === null) args[0] = [h]
    else if (Array.isArray(inheritable) && !inheritable.includes(h)) args[0] = [...inheritable, h]
    const manager = original.apply(this, args)
    try {
      if (manager && Array.isArray(manager.handlers) && !manager.handlers.includes(h)) manager.addHandler(h, true)
    } catch (e) {
      problem('adding the callback handler', e)
    }
    return manager
  }
  Object.defineProperty(configureSync, 'name', { value: original.name })
  Object.defineProperty(configureSync, ORIGINAL, { value: original })
  CallbackManager._configureSync = configureSync
  return true
}

/** @param {any} v whether no handlers are given */
const isEmpty = (v) => v === undefined || v === null || (Array.isArray(v) && v.length === 0)

/**
 * Whether a `_generateUncached` call has no callbacks of its own: no manager handed down (no
 * parent run), none on the model, one message list.
 * @param {any} model
 * @param {any[]} args
 */
function directCall(model, args) {
  const options = args[2]
  return Array.isArray(args[0]) && args[0].length === 1 && isEmpty(options && options.callbacks) && isEmpty(model.callbacks)
}

/**
 * The run of a direct model call (see `patchModel`), put in its slot for the provider SDK call
 * inside.
 * @param {any} model
 * @param {any[]} args
 * @param {ModelCallSlot} slot
 * @param {number} start
 */
function directRun(model, args, slot, start) {
  const options = args[2] || {}
  let frame = slot.outer
  while (frame instanceof ModelCallSlot) frame = frame.outer
  const kind = Array.isArray(args[0][0]) ? 'chat' : 'text_completion'
  const run = new Run(options.runId ? String(options.runId) : '', kind, String(options.runName || kind), frame, frame, null)
  run.start = start
  run.effective = frame
  run.messages = args[0]
  slot.fill(run)
  return run
}

/**
 * LangChain's `ls_*` parameters of a direct call (what the handler gets as run metadata).
 * @param {any} model
 * @param {any[]} args
 */
function directMetadata(model, args) {
  try {
    return (typeof model.getLsParams === 'function' && model.getLsParams(args[1] || {})) || {}
  } catch {
    return {}
  }
}

/**
 * A model's own code runs in a slot (see `ModelCallSlot`): `_generateUncached` (invoke, batch,
 * generate, and streaming through callbacks) and `_streamIterator` (stream).
 * @param {any} Model `BaseChatModel` or `BaseLLM`
 * @returns {boolean}
 */
function patchModel(Model) {
  const proto = Model && Model.prototype
  if (!proto || typeof proto._generateUncached !== 'function') return false
  const generate = proto._generateUncached
  if (!generate[ORIGINAL]) {
    /** @this {any} */
    const wrapped = function (/** @type {any[]} */ ...args) {
      if (!recording()) return generate.apply(this, args)
      // A loop or budget guard refuses the call before it starts (no run, no callbacks).
      tools.checkGuards()
      const st = shared()
      const s = store()
      const slot = new ModelCallSlot(s.activeSpan())
      // Runs started before (by a cache lookup) and handed over.
      const started = args[3]
      if (Array.isArray(started)) {
        for (const manager of started) {
          const run = manager && st.runs.get(manager.runId)
          if (run) slot.fill(run)
        }
        return s.runWithSpan(slot, generate, this, args)
      }
      // A call with no callbacks anywhere (a model invoked on its own, outside any run): the
      // span is made here and LangChain's callback machinery stays off, as it is without
      // fivelens. Its \`_configureSync\` (called before the method's first await) says whether
      // anything else asked for callbacks; if so, the run goes through the handler as usual.
      const direct = directCall(this, args) ? { claimed: false } : null
      const start = direct ? ids.now() : 0
      st.direct = direct
      /** @type {any} */
      let result
      try {
        result = s.runWithSpan(slot, generate, this, args)
      } finally {
        st.direct = null
      }
      if (direct === null || !direct.claimed || !result || typeof result.then !== 'function') return result
      let run
      try {
        run = directRun(this, args, slot, start)
      } catch (e) {
        problem('a model call', e)
        return result
      }
      return result.then(
        (/** @type {any} */ out) => {
          guarded('a model call', () => modelSpan(run, directMetadata(this, args), out, undefined))
          return out
        },
        (/** @type {any} */ error) => {
          guarded('a model call', () => modelSpan(run, directMetadata(this, args), undefined, error ?? null))
          throw error
        },
      )
    }
    Object.defineProperty(wrapped, 'name', { value: generate.name })
    Object.defineProperty(wrapped, ORIGINAL, { value: generate })
    proto._generateUncached = wrapped
  }
  const stream = proto._streamIterator
  if (typeof stream === 'function' && !stream[ORIGINAL]) {
    /** @this {any} */
    const wrapped = function (/** @type {any[]} */ ...args) {
      if (!recording()) return stream.apply(this, args)
      tools.checkGuards()
      return inSlot(stream, this, args)
    }
    Object.defineProperty(wrapped, 'name', { value: stream.name })
    Object.defineProperty(wrapped, ORIGINAL, { value: stream })
    proto._streamIterator = wrapped
  }
  return true
}

/**
 * `StructuredTool.prototype.call` (every tool run goes through it: `invoke`, `Tool.call`,
 * `DynamicStructuredTool`): the circuit breaker at the tool boundary (see the top of this file).
 * @param {any} StructuredTool
 * @returns {boolean}
 */
function patchTool(StructuredTool) {
  const proto = StructuredTool && StructuredTool.prototype
  if (!proto || typeof proto.call !== 'function') return false
  const call = proto.call
  if (call[ORIGINAL]) return true
  /** @this {any} */
  const wrapped = function (/** @type {any[]} */ ...args) {
    if (!recording()) return call.apply(this, args)
    const boundary = tools.Boundary.admit(String(this.name || 'tool'))
    if (!boundary.rejected) return shared().pending.run(boundary, () => call.apply(this, args))
    // Rejected: LangChain's own call (callbacks, ToolMessage) around a body that returns the
    // degraded-mode message instead of running the tool.
    const degraded = Object.create(this)
    degraded._call = async () => boundary.message
    return shared()
      .pending.run(boundary, () => call.apply(degraded, args))
      .then((/** @type {any} */ out) => {
        if (out && typeof out === 'object' && out.tool_call_id !== undefined && 'status' in out) out.status = 'error'
        return out
      })
  }
  Object.defineProperty(wrapped, 'name', { value: call.name })
  Object.defineProperty(wrapped, ORIGINAL, { value: call })
  proto.call = wrapped
  return true
}

/**
 * An async generator whose every step runs in one slot (a generator's body runs in the context
 * of whoever resumes it, so the slot has to be entered on each step).
 * @param {Function} fn
 * @param {any} self
 * @param {any[]} args
 */
async function* inSlot(fn, self, args) {
  const s = store()
  const slot = new ModelCallSlot(s.activeSpan())
  const it = s.runWithSpan(slot, fn, self, args)
  let done = false
  try {
    for (;;) {
      const step = await s.runWithSpan(slot, it.next, it, [])
      if (step.done) {
        done = true
        return step.value
      }
      yield step.value
    }
  } finally {
    if (!done && typeof it.return === 'function') await s.runWithSpan(slot, it.return, it, [])
  }
}

/** Whether a graph is being compiled by an agent factory (`createReactAgent`, `createAgent`). */
function compiledByAgentFactory() {
  const stack = new Error().stack || ''
  return /\bat (?:new )?(?:[\w$]+\.)?(?:createReactAgent|ReactAgent) /.test(stack)
}

/**
 * `StateGraph.prototype.compile`: graphs built by an agent factory are agents (their runs are
 * `invoke_agent` spans); marked in their default metadata, as the Python integration does.
 * @param {any} StateGraph
 * @returns {boolean}
 */
function patchStateGraph(StateGraph) {
  const proto = StateGraph && StateGraph.prototype
  if (!proto || typeof proto.compile !== 'function') return false
  const compile = proto.compile
  if (compile[ORIGINAL]) return true
  /** @this {any} */
  const wrapped = function (/** @type {any[]} */ ...args) {
    const graph = compile.apply(this, args)
    try {
      if (graph && typeof graph === 'object' && compiledByAgentFactory()) {
        const config = graph.config || {}
        graph.config = { ...config, metadata: { ...(config.metadata || {}), fivelens_agent: true } }
      }
    } catch (e) {
      problem('marking an agent graph', e)
    }
    return graph
  }
  Object.defineProperty(wrapped, 'name', { value: compile.name })
  Object.defineProperty(wrapped, ORIGINAL, { value: compile })
  proto.compile = wrapped
  return true
}

/**
 * `awaitAllCallbacks` of one copy of LangChain: `flush()` waits for it.
 * @param {any} fn
 * @returns {boolean}
 */
function addFlusher(fn) {
  if (typeof fn !== 'function') return false
  shared().flushers.add(fn)
  return true
}

/**
 * Patches what a module exports, whichever LangChain module it is; returns whether it knew any.
 * @param {any} mod
 * @returns {boolean}
 */
function patchExports(mod) {
  if (!mod || (typeof mod !== 'object' && typeof mod !== 'function')) return false
  let known = false
  if (mod.CallbackManager) known = patchCallbackManager(mod.CallbackManager) || known
  if (mod.BaseChatModel) known = patchModel(mod.BaseChatModel) || known
  if (mod.BaseLLM) known = patchModel(mod.BaseLLM) || known
  if (mod.StateGraph) known = patchStateGraph(mod.StateGraph) || known
  if (mod.StructuredTool) known = patchTool(mod.StructuredTool) || known
  if (mod.awaitAllCallbacks) known = addFlusher(mod.awaitAllCallbacks) || known
  return known
}

/**
 * For bundled apps (where fivelens cannot find LangChain on disk): the modules as imported, one
 * or several (an array or an object of them): `@langchain/core/callbacks/manager` (required: it
 * is how runs are seen), `@langchain/core/language_models/chat_models` and `.../llms` (one span
 * per model call with the OpenAI and Anthropic SDKs), `@langchain/core/callbacks/promises`
 * (`flush()` waits for background callbacks), `@langchain/langgraph` (agent graphs).
 * @param {any} modules
 * @returns {boolean} whether any was a LangChain module
 */
function patchModule(modules) {
  const list = Array.isArray(modules) ? modules : modules && typeof modules === 'object' && !isModuleLike(modules) ? Object.values(modules) : [modules]
  let known = false
  for (const mod of list) known = patchExports(mod) || known
  if (known) {
    initializeLangChainStorage()
    configure()
  }
  return known
}

/** @param {any} obj */
function isModuleLike(obj) {
  return ['CallbackManager', 'BaseChatModel', 'BaseLLM', 'StateGraph', 'StructuredTool', 'awaitAllCallbacks'].some((k) => k in obj)
}

/**
 * LangChain keeps the current run's config in a process-wide AsyncLocalStorage that only some of
 * its entry points create (`@langchain/langgraph` and `@langchain/core/context` do); without it,
 * runnables nested in a function lose their parent run. Created here when missing, as those
 * entry points do.
 */
function initializeLangChainStorage() {
  const g = /** @type {any} */ (globalThis)
  if (g[LC_ALS] === undefined) g[LC_ALS] = new AsyncLocalStorage()
}

/** The options `instrument()` resolved, and the hooks the package calls. */
function configure() {
  const st = shared()
  const config = state().config || {}
  st.captureChainIo = !!config.capture_chain_io
  st.collapseChains = !!config.collapse_chains
  const native = state().native
  try {
    st.capture = !!(native && native.captureContent())
  } catch {
    st.capture = false
  }
  st.enabled = true
  const s = /** @type {any} */ (state())
  s.runResolver = resolveActive
  s.modelCallAdopter = adopt
  s.toolSpanFor = currentToolSpan
  ;(s.flushHooks ||= new Set()).add(awaitCallbacks)
}

/** Waits for LangChain's background callbacks, in every copy seen. */
function awaitCallbacks() {
  const flushers = [...shared().flushers]
  if (!flushers.length) return Promise.resolve()
  return Promise.allSettled(flushers.map((f) => Promise.resolve().then(() => f())))
}

/** @param {string} root @param {string} rel */
function file(root, rel) {
  const p = path.join(root, rel)
  return fs.existsSync(p) ? p : null
}

/** @param {string} root */
function majorVersion(root) {
  try {
    return Number(String(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version).split('.')[0])
  } catch {
    return NaN
  }
}

/**
 * Patches LangChain (and LangGraph) as the app resolves them: the CommonJS copies when the app
 * requires them (or now, if it has), the ES module copies now (see `stainless.withEsm`).
 * @returns {string | undefined} why it was skipped
 */
function instrument() {
  const core = stainless.resolveFromApp('@langchain/core')
  if (!core) return '@langchain/core is not installed'
  const major = majorVersion(core)
  if (major !== 1) return `@langchain/core ${Number.isNaN(major) ? '(unknown version)' : major + '.x'} is not supported (1.x is)`
  const targets = [
    ['dist/callbacks/manager', core],
    ['dist/language_models/chat_models', core],
    ['dist/language_models/llms', core],
    ['dist/callbacks/promises', core],
    ['dist/tools/index', core],
  ]
  const graph = stainless.resolveFromApp('@langchain/langgraph')
  if (graph && majorVersion(graph) === 1) targets.push(['dist/graph/state', graph])
  if (!file(core, 'dist/callbacks/manager.cjs') && !file(core, 'dist/callbacks/manager.js')) return `@langchain/core at ${core} has no dist/callbacks/manager`
  configure()
  initializeLangChainStorage()
  for (const [rel, root] of targets) {
    const cjs = file(root, rel + '.cjs')
    // (`patchExports` is false while a CommonJS module is still loading: tried again later.)
    if (cjs) stainless.whenRequired(cjs, patchExports)
    const esm = file(root, rel + '.js')
    if (esm) stainless.withEsm(esm, patchExports)
  }
  return undefined
}

module.exports = { instrument, patchModule, resolveActive, adopt, currentToolSpan, awaitCallbacks, INSTRUMENTATION, FivelensCallbackHandler, ModelCallSlot }
