'use strict'
// fivelens for Node.js: `require('fivelens')`. The ESM entry (index.mjs) re-exports this
// module, so CommonJS and ESM apps share one state (see lib/state.js).
const api = require('./lib/api')
const { withLlmCall, startLlmCall, LlmCall } = require('./lib/llm')
const { state } = require('./lib/state')
const contextWindowApi = require('./lib/context_window')
const replayApi = require('./lib/replay')
const behaviour = require('./lib/behaviour')
// Everything but `resetPool` (internal: `instrument()` resizes the evaluation pool with it).
const { resetPool: _resetPool, ...behaviourApi } = behaviour

/** Test support: spans kept when instrumented with `testing: true`, and the core's defaults. */
const testing = {
  /** @returns {any[]} */
  finishedSpans() {
    const st = state()
    if (!st.native) return []
    require('./lib/span').handOver()
    return JSON.parse(st.native.finishedSpans())
  },
  clearFinishedSpans() {
    const st = state()
    if (st.native) st.native.clearFinishedSpans()
  },
  /** @returns {Record<string, any>} */
  defaultConfig() {
    const st = state()
    return st.native ? JSON.parse(st.native.defaultConfig()) : {}
  },
}

module.exports = { ...api, ...contextWindowApi, ...behaviourApi, ...replayApi, withLlmCall, startLlmCall, LlmCall, testing }
