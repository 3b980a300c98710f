'use strict'
// The bridge to the app's OpenTelemetry API (@opentelemetry/api), when it is present.
//
// (a) No tracer provider registered: fivelens becomes the delegate of the API's proxy provider,
//     without registering globally, so an app that registers its own provider later succeeds
//     (and replaces it). Its spans inside a fivelens trace are fivelens spans; others do not
//     record.
// (b) The app has an SDK provider: the JS SDK takes processors only at construction, so the app
//     passes `fivelens.spanProcessor()`; spans it makes inside a fivelens trace go to fivelens's
//     local store only (the app's pipeline exports them: never twice).
// (c) The app has a context manager: fivelens keeps its current span in the OTel context, under
//     that manager, instead of a second store. With none, fivelens registers an
//     AsyncLocalStorage context manager and the W3C trace-context propagator, both of which
//     step aside if the app registers its own later.

const { AsyncLocalStorage } = require('node:async_hooks')
const { state } = require('./state')
const { Span, kindNumber } = require('./span')
const { otelStore } = require('./context')
const ids = require('./ids')
const sc = require('./semconv')

/** @param {any} obj */
const className = (obj) => (obj && obj.constructor && obj.constructor.name) || ''

class FivelensContextManager {
  constructor(/** @type {any} */ api) {
    this._api = api
    this._als = new AsyncLocalStorage()
  }
  active() {
    return this._als.getStore() ?? this._api.ROOT_CONTEXT
  }
  /**
   * @param {any} context
   * @param {Function} fn
   * @param {any} [thisArg]
   * @param {...any} args
   */
  with(context, fn, thisArg, ...args) {
    const cb = thisArg == null ? fn : fn.bind(thisArg)
    return this._als.run(context, /** @type {any} */ (cb), ...args)
  }
  /**
   * @param {any} context
   * @param {any} target
   */
  bind(context, target) {
    if (typeof target !== 'function') return target
    const manager = this
    return function (/** @type {any[]} */ ...args) {
      // @ts-ignore - `this` is the caller's
      return manager.with(context, () => target.apply(this, args))
    }
  }
  enable() {
    return this
  }
  disable() {
    this._als.disable()
    return this
  }
}

class FivelensPropagator {
  constructor(/** @type {any} */ api) {
    this._api = api
  }
  /**
   * @param {any} context
   * @param {any} carrier
   * @param {any} setter
   */
  inject(context, carrier, setter) {
    const span = this._api.trace.getSpan(context)
    if (!span) return
    const sc = span.spanContext()
    if (!this._api.isSpanContextValid(sc)) return
    setter.set(carrier, 'traceparent', `00-${sc.traceId}-${sc.spanId}-0${Number(sc.traceFlags) & 1}`)
    const ts = sc.traceState && sc.traceState.serialize()
    if (ts) setter.set(carrier, 'tracestate', ts)
  }
  /**
   * @param {any} context
   * @param {any} carrier
   * @param {any} getter
   */
  extract(context, carrier, getter) {
    const native = state().native
    if (!native) return context
    /** @type {Record<string, any>} */
    const headers = {}
    for (const k of ['traceparent', 'tracestate']) {
      const v = getter.get(carrier, k)
      if (v !== undefined) headers[k] = Array.isArray(v) ? v[0] : v
    }
    const parsed = JSON.parse(native.parseCarrier(JSON.stringify(headers)))
    if (!parsed.traceId) return context
    return this._api.trace.setSpanContext(context, {
      traceId: parsed.traceId,
      spanId: parsed.spanId,
      traceFlags: parsed.sampled ? 1 : 0,
      isRemote: true,
      traceState: parsed.traceState ? this._api.createTraceState(parsed.traceState) : undefined,
    })
  }
  fields() {
    return ['traceparent', 'tracestate']
  }
}

/** Parent descriptor for a new fivelens span from any span with spanContext(). */
function parentOf(/** @type {any} */ span) {
  const sc = span && typeof span.spanContext === 'function' ? span.spanContext() : null
  if (!sc || !/^[0-9a-f]{32}$/.test(sc.traceId) || /^0+$/.test(sc.traceId) || !/^[0-9a-f]{16}$/.test(sc.spanId) || /^0+$/.test(sc.spanId)) {
    return null
  }
  return {
    traceId: sc.traceId,
    spanId: sc.spanId,
    remote: !!sc.isRemote,
    sampled: (Number(sc.traceFlags) & 1) === 1,
    traceState: sc.traceState && typeof sc.traceState.serialize === 'function' ? sc.traceState.serialize() || undefined : undefined,
  }
}

class FivelensTracer {
  /**
   * @param {any} api
   * @param {string} name
   */
  constructor(api, name) {
    this._api = api
    this._name = name || 'opentelemetry'
  }
  /**
   * @param {string} name
   * @param {any} [options]
   * @param {any} [context]
   */
  startSpan(name, options = {}, context) {
    const api = this._api
    const ctx = context ?? api.context.active()
    let parent = options.root ? undefined : api.trace.getSpan(ctx)
    // Inside a framework run with no span of the app's own: that run's span (integrations/langchain.js).
    const resolve = options.root ? null : /** @type {any} */ (state()).runResolver
    if (resolve) parent = resolve(parent)
    if (!(parent instanceof Span)) {
      // Not inside a fivelens trace: not ours to record; keep propagating what there is.
      const sc = parent ? parent.spanContext() : api.INVALID_SPAN_CONTEXT
      return api.trace.wrapSpanContext(sc)
    }
    const bridge = state().otel
    const span = new Span(name, kindNumber(options.kind ?? 0), parentOf(parent), bridge.store.scopeIn(ctx), state().recording, this._name)
    if (options.startTime !== undefined) span._start = ids.toEpochMs(options.startTime) ?? span._start
    if (options.attributes) span.setAttributes(options.attributes)
    if (options.links) span.addLinks(options.links)
    return span
  }
  /**
   * startActiveSpan(name, fn) / (name, options, fn) / (name, options, context, fn)
   * @param {string} name
   * @param {...any} rest
   */
  startActiveSpan(name, ...rest) {
    const fn = rest.pop()
    const [options, context] = rest
    const api = this._api
    const ctx = context ?? api.context.active()
    const span = this.startSpan(name, options, ctx)
    return api.context.with(api.trace.setSpan(ctx, span), fn, undefined, span)
  }
}

class FivelensTracerProvider {
  constructor(/** @type {any} */ api) {
    this._api = api
  }
  /** @param {string} name */
  getTracer(name) {
    return new FivelensTracer(this._api, name)
  }
}

/**
 * Instrumentation scopes whose spans are recorded wherever they start: model-call spans fivelens
 * adopts instead of making its own (the Anthropic SDK's, when its owner turns them on).
 */
const ADOPTED_SCOPES = ['com.anthropic.sdk']

/** The span processor an app with its own SDK provider passes at construction (case b). */
class FivelensSpanProcessor {
  constructor() {
    /** @type {Map<string, any>} span id -> scope, for spans inside a fivelens trace */
    this._adopted = new Map()
  }
  /**
   * @param {any} span
   * @param {any} parentContext
   */
  onStart(span, parentContext) {
    try {
      const bridge = state().otel
      if (!bridge) return
      const parent = bridge.api.trace.getSpan(parentContext)
      let inside = parent instanceof Span || (parent && this._adopted.has(parent.spanContext().spanId))
      if (!inside) {
        // Model-call spans fivelens adopts wherever they start (see integrations/anthropic.js).
        const scopeName = String((span.instrumentationScope || span.instrumentationLibrary || {}).name || '')
        inside = ADOPTED_SCOPES.some((prefix) => scopeName.startsWith(prefix))
      }
      if (!inside) return
      if (this._adopted.size >= 100000) {
        const oldest = this._adopted.keys().next().value
        if (oldest !== undefined) this._adopted.delete(oldest)
      }
      this._adopted.set(span.spanContext().spanId, bridge.store.scopeIn(parentContext))
    } catch (e) {
      report(`span processor onStart failed: ${e}`)
    }
  }
  /** @param {any} span a ReadableSpan */
  onEnd(span) {
    try {
      const ctx = span.spanContext()
      if (!this._adopted.has(ctx.spanId)) return
      const scope = this._adopted.get(ctx.spanId)
      this._adopted.delete(ctx.spanId)
      const parentId = (span.parentSpanContext && span.parentSpanContext.spanId) || span.parentSpanId || ''
      const parent = parentId ? { traceId: ctx.traceId, spanId: parentId, remote: false, sampled: true } : null
      const scopeName = (span.instrumentationScope || span.instrumentationLibrary || {}).name || 'opentelemetry'
      const s = new Span(span.name, (Number(span.kind) || 0) + 1, parent, scope, true, scopeName)
      s._traceId = ctx.traceId
      s._spanId = ctx.spanId
      s._storeOnly = true
      s._start = ids.toEpochMs(span.startTime) ?? s._start
      s.setAttributes(span.attributes || {})
      s.setAttribute(sc.FIVELENS_OTEL_FOREIGN, true)
      for (const e of span.events || []) s.addEvent(e.name, e.attributes || {}, e.time)
      for (const l of span.links || []) s.addLink(l)
      if (span.status && span.status.code) s.setStatus(span.status)
      s.end(span.endTime)
    } catch (e) {
      report(`span processor onEnd failed: ${e}`)
    }
  }
  forceFlush() {
    return require('./api').flush()
  }
  shutdown() {
    return Promise.resolve()
  }
}

/** @param {string} message */
function report(message) {
  const native = state().native
  if (native) native.reportInternalError('bridge', message)
}

/**
 * Installs the bridge; returns `{api, store}` or null when the API is not importable.
 * @returns {any}
 */
function install() {
  /** @type {any} */
  let api
  try {
    api = require('@opentelemetry/api')
  } catch {
    return null
  }
  // (c) a context manager: the app's, or ours.
  const manager = api.context._getContextManager && api.context._getContextManager()
  let ownsContext = false
  if (!manager || className(manager) === 'NoopContextManager') {
    ownsContext = api.context.setGlobalContextManager(new FivelensContextManager(api))
  }
  let ownsPropagation = false
  const propagator = api.propagation._getGlobalPropagator && api.propagation._getGlobalPropagator()
  if (!propagator || className(propagator) === 'NoopTextMapPropagator') {
    ownsPropagation = api.propagation.setGlobalPropagator(new FivelensPropagator(api))
  }
  // Step aside when the app registers its own later.
  const ctxApi = api.context
  const setCm = ctxApi.setGlobalContextManager
  ctxApi.setGlobalContextManager = function (/** @type {any} */ m) {
    if (ownsContext && !(m instanceof FivelensContextManager)) {
      ctxApi.disable()
      ownsContext = false
    }
    return setCm.call(ctxApi, m)
  }
  const propApi = api.propagation
  const setProp = propApi.setGlobalPropagator
  propApi.setGlobalPropagator = function (/** @type {any} */ p) {
    if (ownsPropagation && !(p instanceof FivelensPropagator)) {
      propApi.disable()
      ownsPropagation = false
    }
    return setProp.call(propApi, p)
  }
  // (a) a tracer provider: only as the proxy's delegate while nobody registered one.
  const proxy = api.trace.getTracerProvider()
  if (proxy && typeof proxy.getDelegate === 'function' && className(proxy.getDelegate()) === 'NoopTracerProvider') {
    proxy.setDelegate(new FivelensTracerProvider(api))
  }
  return { api, store: otelStore(api) }
}

module.exports = { install, FivelensSpanProcessor, FivelensPropagator, FivelensContextManager, parentOf }
