'use strict'
// Where the current span lives. Without the OpenTelemetry API: one AsyncLocalStorage shared by
// every copy of the package. With it: the OpenTelemetry context (the app's context manager, or
// the AsyncLocalStorage manager fivelens registers when there is none), so that the span OTel
// sees as active and the span fivelens parents to are always the same one, innermost first.

const { state } = require('./state')

/** A `withContext` frame in the AsyncLocalStorage store: the span it sits in, and the scope. */
class ScopeFrame {
  /**
   * @param {any} span
   * @param {any} scope
   */
  constructor(span, scope) {
    this.span = span
    this.scope = scope
  }
}

/**
 * @typedef {object} Store
 * @property {() => any} activeSpan the innermost span (ours, or anything with spanContext())
 * @property {() => any} activeScope the innermost Scope, or null
 * @property {(span: any, fn: Function, thisArg: any, args: any[]) => any} runWithSpan
 * @property {(scope: any, fn: Function) => any} runWithScope
 * @property {(fn: Function) => Function} bind
 */

/** @type {Store} */
const alsStore = {
  activeSpan() {
    const v = state().als.getStore()
    return v instanceof ScopeFrame ? v.span : v
  },
  activeScope() {
    const v = state().als.getStore()
    if (v === undefined) return null
    return v instanceof ScopeFrame ? v.scope : v._scope || null
  },
  runWithSpan(span, fn, thisArg, args) {
    return state().als.run(span, () => fn.apply(thisArg, args))
  },
  runWithScope(scope, fn) {
    return state().als.run(new ScopeFrame(this.activeSpan(), scope), () => fn())
  },
  bind(fn) {
    const frame = state().als.getStore()
    const als = state().als
    return function bound(/** @type {any[]} */ ...args) {
      // @ts-ignore - `this` is the caller's
      return als.run(frame, () => fn.apply(this, args))
    }
  },
}

/**
 * @param {any} api the @opentelemetry/api module
 * @returns {Store}
 */
function otelStore(api) {
  const SCOPE = api.createContextKey('fivelens scope')
  return {
    activeSpan() {
      return api.trace.getSpan(api.context.active())
    },
    activeScope() {
      return api.context.active().getValue(SCOPE) ?? null
    },
    runWithSpan(span, fn, thisArg, args) {
      return api.context.with(api.trace.setSpan(api.context.active(), span), fn, thisArg, ...args)
    },
    runWithScope(scope, fn) {
      return api.context.with(api.context.active().setValue(SCOPE, scope), fn)
    },
    bind(fn) {
      return api.context.bind(api.context.active(), fn)
    },
    // @ts-ignore - used by the span processor
    scopeIn(/** @type {any} */ ctx) {
      return ctx && typeof ctx.getValue === 'function' ? ctx.getValue(SCOPE) ?? null : null
    },
  }
}

/** @returns {Store} */
function store() {
  const st = state()
  return st.otel ? st.otel.store : alsStore
}

module.exports = { store, alsStore, otelStore, ScopeFrame }
