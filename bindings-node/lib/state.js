'use strict'
// Process-wide state, shared by every copy of this package that gets loaded (the CommonJS and
// ESM entry points, or two bundled copies): one buffer, one AsyncLocalStorage, one exit hook.

const { AsyncLocalStorage } = require('node:async_hooks')

const KEY = Symbol.for('fivelens.state.v1')

/**
 * @typedef {object} State
 * @property {any} native the addon, or null when it could not load
 * @property {boolean} nativeLoaded whether loading was attempted
 * @property {boolean} recording
 * @property {any[]} buffer encoded spans waiting to be handed to the addon
 * @property {ReturnType<typeof setTimeout> | null} timer
 * @property {AsyncLocalStorage<any>} als the store of the current frame when no OpenTelemetry API is present
 * @property {any} otel the OpenTelemetry bridge, when active
 * @property {Record<string, any> | null} config the resolved configuration
 * @property {any} report what instrument() did
 * @property {number} ended spans ended since start
 * @property {number} lastFlushedEnded value of `ended` at the last exit flush
 * @property {boolean} hooksInstalled
 * @property {number} nextScopeId
 * @property {number} maxAttributeBytes
 * @property {boolean} headSampling decisions are taken when a trace starts (`samplingMode: 'head'`)
 * @property {number} headDropped spans of head-dropped traces not handed to the addon
 * @property {boolean} guards loop or budget guards are set: model calls' spend is counted as they end
 */

/** @returns {State} */
function state() {
  const g = /** @type {any} */ (globalThis)
  if (!g[KEY]) {
    g[KEY] = {
      native: null,
      nativeLoaded: false,
      recording: false,
      buffer: [],
      timer: null,
      als: new AsyncLocalStorage(),
      otel: null,
      config: null,
      report: null,
      ended: 0,
      lastFlushedEnded: 0,
      hooksInstalled: false,
      nextScopeId: 1,
      maxAttributeBytes: 128 * 1024,
      headSampling: false,
      headDropped: 0,
      guards: false,
    }
  }
  return g[KEY]
}

module.exports = { state }
