'use strict'
// HTTP hops: the trace context on outgoing requests (`fetch` / undici, `http` and `https`), and a
// SERVER span for every request an `http` / `https` server handles (Express and any framework on
// top of `http.createServer` included). The same rules as the Python package (fivelens/_http.py):
//
//     this process                                        the service called
//     active span ── CLIENT span ── traceparent ───────>  SERVER span (here: Server#emit('request'))
//                                   tracestate              └─ the handler's spans
//                                   baggage (passed through)
//                                   fivelens-context (not to model providers)
//
// Outgoing: a request made inside a trace gets a CLIENT span named by its method, and that span's
// headers. A request made while a model-call span is active (an OpenAI or Anthropic SDK call,
// `withLlmCall`), or by a provider SDK (its `x-stainless-lang` header), is the model call itself:
// it carries the model-call span's `traceparent`, no second span, and no `fivelens-context`
// (meant for downstream fivelens services, not model-provider APIs). A request outside any trace
// is left alone. `baggage`: the app's OpenTelemetry baggage, else the `baggage` header of the
// request being served.
//
// Never twice: a request that already carries a `traceparent` (the app's, or that of the app's
// own @opentelemetry/instrumentation-http, which patches `http.request` before or after us) is
// left alone. For fetch, @opentelemetry/instrumentation-undici listens on the same diagnostics
// channel: when it runs first its header is seen; when it runs after us, its `addHeader` of a
// propagation header replaces ours instead of adding a second. A server request arriving inside
// the app's own OTel SERVER span, or a Server#emit that OTel has already wrapped, is left to it.
//
// How it hooks in: fetch through undici's diagnostics channels (`undici:request:create`,
// `:headers`, `:error`; the Node-bundled copy and the npm package alike); `http.request` /
// `http.get` (and https) wrapped, since the `http.client.*` channels fire after the headers are
// sent; `Server.prototype.emit` for 'request' (http and https). Nothing here throws into the app.

const dc = require('node:diagnostics_channel')
const { AsyncLocalStorage } = require('node:async_hooks')
const sc = require('../lib/semconv')
const { state } = require('../lib/state')
const { store } = require('../lib/context')
const { Span } = require('../lib/span')
const { report } = require('../lib/llm')

const CLIENT_INSTRUMENTATION = 'fivelens.http.client'
const SERVER_INSTRUMENTATION = 'fivelens.http.server'
/** Every request of a Stainless-generated SDK (OpenAI, Anthropic and other providers) has it. */
const PROVIDER_SDK_HEADER = 'x-stainless-lang'
const PROPAGATION = new Set([sc.TRACEPARENT, sc.TRACESTATE, sc.BAGGAGE, sc.FIVELENS_CONTEXT_HEADER])
/** Query parameters whose values are secrets (the HTTP conventions' list, and common API-key names). */
const SECRET_QUERY_KEYS = new Set(['awsaccesskeyid', 'signature', 'sig', 'x-goog-signature', 'x-amz-signature', 'x-amz-credential', 'x-amz-security-token', 'key', 'api_key', 'apikey', 'api-key', 'token', 'access_token', 'client_secret', 'password', 'secret', 'code'])
const REDACTED = 'REDACTED'
/** Marks what fivelens wrapped (shared by every copy of the package). */
const ORIGINAL = Symbol.for('fivelens.http.original')
const SHARED = Symbol.for('fivelens.http.v1')
/** The SERVER span of an incoming request (an app emitting 'request' twice gets one). */
const SERVER_SPAN = Symbol.for('fivelens.http.serverSpan')
/** Whether the `emit` fivelens replaced was the prototype's own (else inherited). */
const OWN = Symbol('fivelens.http.ownEmit')

/** @type {any} */
let api = null
const lib = () => (api ||= require('../lib/api'))

/** Incoming `baggage` of the request being served, for the requests its handler makes. */
const incomingBaggage = new AsyncLocalStorage()

/**
 * @param {string} what
 * @param {any} e
 */
function problem(what, e) {
  report(`http: ${what}: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' ') : e}`)
}

// ---- outgoing ---------------------------------------------------------------------------------

/** `url.full` as the conventions want it: no credentials, secret query values redacted. */
function sanitizeUrl(/** @type {string} */ raw) {
  try {
    const url = new URL(raw)
    if (url.username || url.password) {
      url.username = REDACTED
      url.password = REDACTED
    }
    for (const key of [...url.searchParams.keys()]) {
      if (SECRET_QUERY_KEYS.has(key.toLowerCase())) url.searchParams.set(key, REDACTED)
    }
    return url.toString()
  } catch {
    return ''
  }
}

/** The app's OpenTelemetry baggage as a header value, if any. */
function otelBaggage() {
  const bridge = state().otel
  if (!bridge || !bridge.api) return undefined
  const otelApi = bridge.api
  const baggage = otelApi.propagation.getBaggage(otelApi.context.active())
  if (!baggage) return undefined
  const entries = baggage.getAllEntries()
  if (!entries.length) return undefined
  return entries.map((/** @type {[string, {value: string}]} */ [k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v.value)}`).join(',')
}

/**
 * What to do for an outgoing request: `null` to leave it alone, else the CLIENT span (null for a
 * model-provider request) and the headers to add.
 * @param {string} method
 * @param {string} url
 * @param {(name: string) => boolean} hasHeader
 * @returns {{span: Span | null, headers: Record<string, string>} | null}
 */
function outgoing(method, url, hasHeader) {
  try {
    if (!state().recording || hasHeader(sc.TRACEPARENT)) return null
    const a = lib()
    const current = a.currentSpan()
    if (!current) return null
    /** @type {Record<string, string>} */
    let headers = a.inject({})
    if (!headers[sc.TRACEPARENT]) return null
    let span = null
    const modelCall = current instanceof Span && current._attributes[sc.GEN_AI_OPERATION_NAME] !== undefined
    if (modelCall || hasHeader(PROVIDER_SDK_HEADER)) {
      delete headers[sc.FIVELENS_CONTEXT_HEADER]
    } else {
      const m = String(method || 'GET').toUpperCase()
      /** @type {Record<string, any>} */
      const attributes = { [sc.HTTP_REQUEST_METHOD]: m, [sc.URL_FULL]: sanitizeUrl(url) }
      try {
        const u = new URL(url)
        attributes[sc.SERVER_ADDRESS] = u.hostname.replace(/^\[|\]$/g, '')
        attributes[sc.SERVER_PORT] = Number(u.port) || (u.protocol === 'https:' ? 443 : 80)
      } catch {}
      span = a.startSpan(m, { kind: 'client', attributes, instrumentation: CLIENT_INSTRUMENTATION })
      headers = a.inject({}, span)
    }
    if (!hasHeader(sc.BAGGAGE)) {
      const baggage = otelBaggage() ?? incomingBaggage.getStore()
      if (baggage) headers[sc.BAGGAGE] = baggage
    }
    return { span, headers }
  } catch (e) {
    problem('preparing an outgoing request', e)
    return null
  }
}

/**
 * Ends a CLIENT span: the status code, and ERROR for a 4xx/5xx response or an error.
 * @param {Span | null | undefined} span
 * @param {number | undefined} status
 * @param {any} [error]
 */
function clientDone(span, status, error) {
  if (!span || !span.isRecording()) return
  try {
    if (status !== undefined) span.setAttribute(sc.HTTP_RESPONSE_STATUS_CODE, status)
    if (error !== undefined) {
      span.recordException(error)
      const code = error && (error.code || (error.cause && error.cause.code))
      if (typeof code === 'string') span.setAttribute(sc.ERROR_TYPE, code)
    } else if (status !== undefined && status >= 400) {
      span.setAttribute(sc.ERROR_TYPE, String(status))
      span.setStatus('error')
    }
    span.end()
  } catch (e) {
    problem('ending an HTTP client span', e)
  }
}

// fetch / undici ---------------------------------------------------------------------------------

/** undici request -> its CLIENT span. */
const undiciSpans = new WeakMap()

/**
 * @param {any} headers undici's header list: [k, v, k, v...] (v6+) or a raw string (v5)
 * @param {string} name lower case
 */
function undiciHas(headers, name) {
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) if (String(headers[i]).toLowerCase() === name) return true
    return false
  }
  if (typeof headers === 'string') return headers.toLowerCase().split('\r\n').some((line) => line.startsWith(`${name}:`))
  return false
}

/**
 * Drops `name` from undici's header list (so a header set after ours replaces it).
 * @param {any} request
 * @param {string} name
 */
function undiciDrop(request, name) {
  const h = request.headers
  if (Array.isArray(h)) {
    for (let i = h.length - 2; i >= 0; i -= 2) if (String(h[i]).toLowerCase() === name) h.splice(i, 2)
  } else if (typeof h === 'string') {
    request.headers = h
      .split('\r\n')
      .filter((line) => !line.toLowerCase().startsWith(`${name}:`))
      .join('\r\n')
  }
}

function onUndiciCreate(/** @type {any} */ message) {
  try {
    const request = message && message.request
    if (!request || typeof request.addHeader !== 'function') return
    const url = `${request.origin || ''}${request.path || ''}`
    const plan = outgoing(request.method, url, (name) => undiciHas(request.headers, name))
    if (!plan) return
    const added = Object.keys(plan.headers)
    for (const [k, v] of Object.entries(plan.headers)) request.addHeader(k, v)
    // A propagation header another listener adds after us replaces ours: one traceparent.
    const addHeader = request.addHeader
    request.addHeader = function (/** @type {string} */ key, /** @type {any} */ value) {
      const k = String(key).toLowerCase()
      if (added.includes(k)) {
        undiciDrop(this, k)
        added.splice(added.indexOf(k), 1)
      }
      return addHeader.call(this, key, value)
    }
    if (plan.span) undiciSpans.set(request, plan.span)
  } catch (e) {
    problem('fetch request', e)
  }
}

function onUndiciHeaders(/** @type {any} */ message) {
  const span = message && undiciSpans.get(message.request)
  if (!span) return
  undiciSpans.delete(message.request)
  clientDone(span, message.response && message.response.statusCode)
}

function onUndiciError(/** @type {any} */ message) {
  const span = message && undiciSpans.get(message.request)
  if (!span) return
  undiciSpans.delete(message.request)
  clientDone(span, undefined, message.error)
}

// http / https clients ---------------------------------------------------------------------------

/**
 * The URL of a ClientRequest just made.
 * @param {any} req
 * @param {string} defaultProtocol
 */
function requestUrl(req, defaultProtocol) {
  const protocol = req.protocol || defaultProtocol
  const host = req.host || 'localhost'
  const socketPort = req.agent && req.agent.defaultPort
  const header = typeof req.getHeader === 'function' ? req.getHeader('host') : undefined
  const authority = typeof header === 'string' ? header : `${host}${socketPort ? `:${socketPort}` : ''}`
  return `${protocol}//${authority}${req.path || '/'}`
}

/**
 * Observes one ClientRequest: headers added now (before anything is sent), the span ended at the
 * response or the error. Its `emit` is wrapped, not listened to: a listener would change what an
 * unhandled 'error' or an unread response does.
 * @param {any} req
 * @param {string} protocol
 */
function observeClientRequest(req, protocol) {
  try {
    if (!req || req.headersSent || typeof req.setHeader !== 'function') return
    const plan = outgoing(req.method, requestUrl(req, protocol), (name) => req.getHeader(name) !== undefined)
    if (!plan) return
    for (const [k, v] of Object.entries(plan.headers)) req.setHeader(k, v)
    const span = plan.span
    if (!span) return
    const emit = req.emit
    req.emit = function (/** @type {string} */ event, /** @type {any[]} */ ...args) {
      if (event === 'response') clientDone(span, args[0] && args[0].statusCode)
      else if (event === 'error') clientDone(span, undefined, args[0])
      else if (event === 'close') clientDone(span, undefined, new Error('request closed before a response'))
      return emit.call(this, event, ...args)
    }
  } catch (e) {
    problem('http request', e)
  }
}

/**
 * @param {any} mod `http` or `https`
 * @param {string} protocol
 */
function patchClient(mod, protocol) {
  const request = mod.request
  if (typeof request !== 'function' || request[ORIGINAL]) return
  /** @this {any} */
  const wrappedRequest = function (/** @type {any[]} */ ...args) {
    const req = request.apply(this, args)
    observeClientRequest(req, protocol)
    return req
  }
  // `get` is `request` + `end()`; the original would end it before the headers are added.
  const wrappedGet = function (/** @type {any[]} */ ...args) {
    const req = wrappedRequest(...args)
    req.end()
    return req
  }
  Object.defineProperty(wrappedRequest, ORIGINAL, { value: request })
  Object.defineProperty(wrappedGet, ORIGINAL, { value: mod.get })
  mod.request = wrappedRequest
  mod.get = wrappedGet
}

/** @param {any} mod */
function unpatchClient(mod) {
  for (const name of ['request', 'get']) if (mod[name] && mod[name][ORIGINAL]) mod[name] = mod[name][ORIGINAL]
}

// ---- incoming ---------------------------------------------------------------------------------

/** Whether the active span is the app's own OpenTelemetry SERVER span. */
function otelServerActive() {
  const bridge = state().otel
  if (!bridge || !bridge.api) return false
  const span = bridge.api.trace.getSpan(bridge.api.context.active())
  return !!span && !(span instanceof Span) && span.kind === 1 // SpanKind.SERVER
}

/**
 * `http.route`: Express's matched route (with its mount path), when there is one.
 * @param {any} req
 */
function routeOf(req) {
  const route = req.route
  const path = route && route.path
  if (typeof path !== 'string') return undefined
  return `${typeof req.baseUrl === 'string' ? req.baseUrl : ''}${path}`
}

/**
 * Runs the app's 'request' listeners inside a SERVER span.
 * @param {Function} emit the original Server#emit
 * @param {any} server
 * @param {any[]} args ['request', req, res]
 * @param {string} scheme
 */
function serve(emit, server, args, scheme) {
  const [, req, res] = args
  /** @type {Span | null} */
  let span = null
  /** @type {string | undefined} */
  let baggage
  try {
    if (state().recording && req && res && !otelServerActive() && !req[SERVER_SPAN]) {
      const a = lib()
      /** @type {Record<string, any>} */
      const headers = {}
      for (const name of PROPAGATION) if (req.headers[name] !== undefined) headers[name] = req.headers[name]
      baggage = typeof headers[sc.BAGGAGE] === 'string' ? headers[sc.BAGGAGE] : undefined
      const method = String(req.method || 'GET').toUpperCase()
      const path = String(req.url || '/').split('?')[0]
      /** @type {Record<string, any>} */
      const attributes = { [sc.HTTP_REQUEST_METHOD]: method, [sc.URL_PATH]: path, [sc.URL_SCHEME]: scheme }
      const socket = req.socket
      if (socket && socket.remoteAddress) {
        attributes[sc.CLIENT_ADDRESS] = socket.remoteAddress.replace(/^::ffff:/, '')
        if (socket.remotePort) attributes[sc.CLIENT_PORT] = socket.remotePort
      }
      if (socket && socket.localAddress) {
        attributes[sc.SERVER_ADDRESS] = socket.localAddress.replace(/^::ffff:/, '')
        if (socket.localPort) attributes[sc.SERVER_PORT] = socket.localPort
      }
      // Always an explicit parent: the caller's, or none (a new trace).
      span = a.startSpan(method, { kind: 'server', parent: a.extract(headers), attributes, instrumentation: SERVER_INSTRUMENTATION })
      Object.defineProperty(req, SERVER_SPAN, { value: span })
      const done = () => serverDone(/** @type {Span} */ (span), req, res, method)
      res.once('finish', done)
      res.once('close', done)
    }
  } catch (e) {
    problem('starting a server span', e)
    span = null
  }
  if (!span) return emit.apply(server, args)
  const run = () => store().runWithSpan(span, emit, server, args)
  return baggage ? incomingBaggage.run(baggage, run) : run()
}

/**
 * @param {Span} span
 * @param {any} req
 * @param {any} res
 * @param {string} method
 */
function serverDone(span, req, res, method) {
  try {
    if (!span.isRecording()) return
    const route = routeOf(req)
    if (route) {
      span.setAttribute(sc.HTTP_ROUTE, route)
      span.updateName(`${method} ${route}`)
    }
    const status = res.statusCode
    if (res.writableFinished || res.headersSent) span.setAttribute(sc.HTTP_RESPONSE_STATUS_CODE, status)
    if (!res.writableFinished && !res.headersSent) {
      span.setAttribute(sc.ERROR_TYPE, 'aborted')
      span.setStatus('error')
    } else if (status >= 500) {
      span.setAttribute(sc.ERROR_TYPE, String(status))
      span.setStatus('error')
    }
    span.end()
  } catch (e) {
    problem('ending a server span', e)
  }
}

/**
 * @param {any} Server `http.Server` or `https.Server`
 * @param {string} scheme
 */
function patchServer(Server, scheme) {
  const proto = Server && Server.prototype
  const emit = proto && proto.emit
  if (typeof emit !== 'function' || emit[ORIGINAL]) return
  // Already wrapped by shimmer (what @opentelemetry/instrumentation-http uses): the app's own
  // server spans; leave the servers to it.
  if (emit.__wrapped) return
  /** @this {any} */
  const wrapped = function (/** @type {string} */ event, /** @type {any[]} */ ...rest) {
    if (event !== 'request') return emit.call(this, event, ...rest)
    return serve(emit, this, [event, ...rest], scheme)
  }
  Object.defineProperty(wrapped, ORIGINAL, { value: emit })
  Object.defineProperty(wrapped, OWN, { value: Object.prototype.hasOwnProperty.call(proto, 'emit') })
  proto.emit = wrapped
}

/** @param {any} Server */
function unpatchServer(Server) {
  const proto = Server && Server.prototype
  const wrapped = proto && proto.emit
  if (!wrapped || !wrapped[ORIGINAL]) return
  if (wrapped[OWN]) proto.emit = wrapped[ORIGINAL]
  else delete proto.emit // inherited from EventEmitter
}

// ---- switching on and off -----------------------------------------------------------------------

function instrument() {
  const g = /** @type {any} */ (globalThis)
  if (g[SHARED]) return undefined // another copy of fivelens did it
  const http = require('node:http')
  const https = require('node:https')
  patchClient(http, 'http:')
  patchClient(https, 'https:')
  patchServer(http.Server, 'http')
  patchServer(https.Server, 'https')
  try {
    require('node:module').syncBuiltinESMExports()
  } catch {}
  dc.subscribe('undici:request:create', onUndiciCreate)
  dc.subscribe('undici:request:headers', onUndiciHeaders)
  dc.subscribe('undici:request:error', onUndiciError)
  g[SHARED] = true
  return undefined
}

function uninstrument() {
  const g = /** @type {any} */ (globalThis)
  if (!g[SHARED]) return
  const http = require('node:http')
  const https = require('node:https')
  unpatchClient(http)
  unpatchClient(https)
  unpatchServer(http.Server)
  unpatchServer(https.Server)
  try {
    require('node:module').syncBuiltinESMExports()
  } catch {}
  dc.unsubscribe('undici:request:create', onUndiciCreate)
  dc.unsubscribe('undici:request:headers', onUndiciHeaders)
  dc.unsubscribe('undici:request:error', onUndiciError)
  g[SHARED] = false
}

module.exports = { instrument, uninstrument, sanitizeUrl, CLIENT_INSTRUMENTATION, SERVER_INSTRUMENTATION }
