'use strict'
// The Model Context Protocol SDKs: `@modelcontextprotocol/sdk` 1.x and the split 2.x packages
// (`@modelcontextprotocol/client`, `@modelcontextprotocol/server`), CommonJS and ES module builds.
// Neither line traces anything by itself (2.x only exports the `_meta` key names), so every hop
// is ours: a CLIENT span per request sent, a SERVER span per request handled, one trace across
// processes through the request's `params._meta` (`traceparent`, `tracestate`, and
// `fivelens-context` for the trace-scoped attributes). Span names and attributes follow the MCP
// conventions (`shared/research/semconv.md` section 4).
//
// How it hooks in. Every copy of the SDK has one `Protocol` class (1.x: `shared/protocol.js`;
// 2.x: bundled into each package, exported from its index), which clients and servers extend.
// Two of its methods are wrapped, on every copy found (CommonJS when the app requires it, ES
// modules at `instrument()`, as the LangChain integration does):
//
//     app: client.callTool({name, arguments, _meta})
//       Protocol request funnel               --->  CLIENT span `tools/call {name}`, active while
//       (1.x `request`, 2.x                         the transport sends (an HTTP hop nests under it);
//        `_requestWithSchemaViaCodec`)              the request gets a copy of `_meta` with our keys
//                                                   added (the app's own keys win and are kept)
//         transport.send  ~~~~ stdio / HTTP / in memory ~~~~>
//                                        server transport.onmessage (wrapped at connect)
//                                          ---> SERVER span, parent = the `_meta` context (a
//                                               missing or malformed one starts a new trace); the
//                                               SDK's dispatch runs in it, so the tool callback,
//                                               and whatever it calls, nests under it
//                                        server transport.send (wrapped at connect)
//                                          ---> the response ends the SERVER span
//       the request's promise settles         --->  the CLIENT span ends
//
// A JSON-RPC error sets `error.type` (the code as a string), `rpc.response.status_code` and
// ERROR; a tool result with `isError: true` is a failed tool call (`error.type = tool_error`).
// Notifications are `mcp.notification` events: on the span of the request they belong to
// (progress by its token, the sender's related request, the only request in flight on that
// connection when received), else on the span that was active when the connection was made
// (the session's).
//
// Inside an agent framework's tool run of the same tool (LangChain.js's `execute_tool get_weather`
// calling `tools/call get_weather`), no second span is made (the MCP conventions' rule): the tool
// span gets the MCP attributes, carries the request's trace context and is the server span's
// parent; it ends with its tool run.
//
// The circuit breaker: a `tools/call` crosses the tool boundary; the breakers of the tool (of its
// server) and of the server (`mcp.server.name`) are asked first. In `enforce` mode a call they
// reject is not sent: the request resolves to the result an MCP server returns for a failed tool,
// `isError: true` with the degraded-mode message as text. `isError` results count as errors
// (`tool_error`), whatever peers count them as.
//
// Connections are seen from `connect()` on: those opened before `instrument()` are not traced.
// Nothing here throws into the app: a failure is reported (`status()`) and the SDK goes on
// unobserved.

const fs = require('node:fs')
const path = require('node:path')
const sc = require('../lib/semconv')
const { state } = require('../lib/state')
const { store } = require('../lib/context')
const { toJson, report } = require('../lib/llm')
const { Boundary } = require('../lib/tools')
const stainless = require('./stainless')

const INSTRUMENTATION = 'fivelens.mcp'
const ORIGINAL = stainless.ORIGINAL
/** A transport already wrapped (shared by every copy of fivelens). */
const HOOKED = Symbol.for('fivelens.mcp.hooked')
/** Per-process state, shared by every copy of fivelens. */
const SHARED = Symbol.for('fivelens.mcp.v1')

/** Notifications that are lifecycle plumbing, not events anybody looks for. */
const SILENT = new Set(['notifications/initialized'])
/** Largest status description taken from a tool's error text. */
const MAX_DESCRIPTION = 1024

/**
 * One request in flight on a connection: its span, and what its end needs.
 * @typedef {object} Exchange
 * @property {any} span
 * @property {string} method
 * @property {any} progressToken
 * @property {boolean} [borrowed] the span is an agent framework's tool span (not ours to end)
 */

/** What is known about one connection (one transport). */
class Connection {
  /**
   * @param {any} transport
   * @param {any} session the span active when the connection was made
   */
  constructor(transport, session) {
    this.transport = transport
    this.session = session
    /** @type {string | undefined} negotiated protocol version, seen in `initialize` */
    this.protocolVersion = undefined
    /** Requests this side sent, by JSON-RPC id. @type {Map<any, Exchange>} */
    this.outgoing = new Map()
    /** Requests this side is handling, by JSON-RPC id. @type {Map<any, Exchange>} */
    this.incoming = new Map()
    /** @type {Record<string, any>} */
    this.network = networkOf(transport)
  }
}

/** @returns {{connections: WeakMap<any, Connection>, capture: boolean}} */
function shared() {
  const g = /** @type {any} */ (globalThis)
  return (g[SHARED] ||= { connections: new WeakMap(), capture: false })
}

/** @param {string} what @param {any} e */
function problem(what, e) {
  report(`integration: mcp: ${what}: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' ') : e}`)
}

const recording = () => state().recording

/** @type {any} */
let api = null
const lib = () => (api ||= require('../lib/api'))

// ---- attributes ----------------------------------------------------------------------------------

/**
 * `network.*` (and `server.*` for an HTTP client) of a transport, from its kind.
 * @param {any} transport
 * @returns {Record<string, any>}
 */
function networkOf(transport) {
  /** @type {Record<string, any>} */
  const attrs = {}
  const kind = (transport && transport.constructor && transport.constructor.name) || ''
  if (/stdio/i.test(kind)) {
    attrs[sc.NETWORK_TRANSPORT] = 'pipe'
  } else if (/http|sse/i.test(kind)) {
    attrs[sc.NETWORK_TRANSPORT] = 'tcp'
    attrs[sc.NETWORK_PROTOCOL_NAME] = 'http'
    const url = transport._url
    if (url instanceof URL && url.hostname) {
      attrs[sc.SERVER_ADDRESS] = url.hostname.replace(/^\[(.*)\]$/, '$1')
      attrs[sc.SERVER_PORT] = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80
    }
  }
  return attrs
}

/**
 * The span name and the attributes a request's method and params give (either side).
 * @param {any} message a JSON-RPC request (or the SDK's request before it gets an id)
 * @returns {[string, Record<string, any>]}
 */
function describe(message) {
  const method = String(message.method)
  const params = message.params && typeof message.params === 'object' ? message.params : {}
  /** @type {Record<string, any>} */
  const attrs = { [sc.MCP_METHOD_NAME]: method }
  let target = ''
  if (method === 'tools/call' && typeof params.name === 'string') {
    target = params.name
    attrs[sc.GEN_AI_TOOL_NAME] = target
    attrs[sc.GEN_AI_OPERATION_NAME] = 'execute_tool'
    if (shared().capture && params.arguments !== undefined) attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = toJson(params.arguments)
  } else if (method === 'prompts/get' && typeof params.name === 'string') {
    target = params.name
    attrs[sc.GEN_AI_PROMPT_NAME] = target
  } else if (method.startsWith('resources/') && typeof params.uri === 'string') {
    attrs[sc.MCP_RESOURCE_URI] = params.uri
  }
  return [target ? `${method} ${target}` : method, attrs]
}

/**
 * Attributes that may be known only later in a connection's life (session id, protocol version).
 * @param {Connection | null} conn
 * @param {any} protocol
 * @param {any} span
 */
function setConnectionAttributes(conn, protocol, span) {
  const transport = conn ? conn.transport : protocol && protocol._transport
  const session = transport && transport.sessionId
  if (typeof session === 'string' && session) span.setAttribute(sc.MCP_SESSION_ID, session)
  const version = (protocol && protocol._negotiatedProtocolVersion) || (conn && conn.protocolVersion)
  if (typeof version === 'string' && version) span.setAttribute(sc.MCP_PROTOCOL_VERSION, version)
}

/**
 * `mcp.server.name`: the server's name from `initialize` (client side) or its own (server side).
 * @param {any} protocol
 * @returns {string | undefined}
 */
function serverName(protocol) {
  const info = protocol && (protocol._serverVersion || protocol._serverInfo)
  return info && typeof info.name === 'string' && info.name ? info.name : undefined
}

/**
 * The end of a request, either side: the JSON-RPC error, or the result (`isError` for tools).
 * @param {Exchange} exchange
 * @param {Connection | null} conn
 * @param {any} result
 * @param {any} error a JSON-RPC error object or a thrown error; undefined when it succeeded
 */
function settle(exchange, conn, result, error) {
  const span = exchange.span
  if (error !== undefined) {
    const code = error && typeof error === 'object' ? error.code : undefined
    if (Number.isInteger(code)) {
      span.setAttribute(sc.ERROR_TYPE, String(code))
      span.setAttribute(sc.RPC_RESPONSE_STATUS_CODE, String(code))
    }
    if (error instanceof Error) span.recordException(error)
    else span.setStatus('error', String((error && error.message) ?? ''))
    return
  }
  if (!result || typeof result !== 'object') return
  if (exchange.method === 'initialize' && conn && typeof result.protocolVersion === 'string') {
    conn.protocolVersion = result.protocolVersion
    span.setAttribute(sc.MCP_PROTOCOL_VERSION, result.protocolVersion)
  }
  if (exchange.method !== 'tools/call') return
  if (result.isError === true) {
    span.setAttribute(sc.ERROR_TYPE, sc.TOOL_ERROR)
    span.setStatus('error', firstText(result.content).slice(0, MAX_DESCRIPTION))
  }
  if (shared().capture) {
    /** @type {Record<string, any>} */
    const out = {}
    if (result.content !== undefined) out.content = result.content
    if (result.structuredContent !== undefined) out.structuredContent = result.structuredContent
    if (result.isError !== undefined) out.isError = result.isError
    span.setAttribute(sc.GEN_AI_TOOL_CALL_RESULT, toJson(out))
  }
}

/** @param {any} content */
function firstText(content) {
  if (!Array.isArray(content)) return ''
  for (const part of content) if (part && part.type === 'text' && typeof part.text === 'string') return part.text
  return ''
}

// ---- client side: the request funnel -------------------------------------------------------------

/**
 * `_meta` for the outgoing request: ours (trace context, fivelens context) under the app's.
 * @param {any} request
 * @param {any} span
 */
function withTraceContext(request, span) {
  const params = request.params && typeof request.params === 'object' ? request.params : {}
  const own = params._meta && typeof params._meta === 'object' ? params._meta : {}
  /** @type {Record<string, any>} */
  const carrier = lib().inject({}, span)
  return { ...request, params: { ...params, _meta: { ...carrier, ...own } } }
}

/**
 * Wraps a request funnel: `request(request, schema, options)` (1.x) or
 * `_requestWithSchemaViaCodec(codec, request, schema, options)` (2.x).
 * @param {any} proto
 * @param {string} name
 * @param {number} index where the request is among the arguments
 */
function wrapRequest(proto, name, index) {
  const original = proto[name]
  if (typeof original !== 'function' || original[ORIGINAL]) return
  /** @this {any} */
  const wrapped = function (/** @type {any[]} */ ...args) {
    if (!recording()) return original.apply(this, args)
    /** @type {any} */
    let call = null
    try {
      call = startRequest(this, args, index)
    } catch (e) {
      problem('starting a client span', e)
    }
    if (!call) return original.apply(this, args)
    if (call.boundary && call.boundary.rejected) return rejectCall(call, args[index + 1])
    const before = this._requestMessageId
    let result
    try {
      result = store().runWithSpan(call.exchange.span, original, this, call.args)
    } catch (e) {
      endRequest(call, undefined, e)
      throw e
    }
    try {
      // The id the SDK just gave the request (assigned synchronously, one per request).
      if (Number.isInteger(before) && this._requestMessageId === before + 1) {
        call.id = before
        call.exchange.progressToken = before
        call.exchange.span.setAttribute(sc.JSONRPC_REQUEST_ID, String(before))
        if (call.conn) call.conn.outgoing.set(before, call.exchange)
      }
      if (result && typeof result.then === 'function') {
        result.then(
          (/** @type {any} */ value) => endRequest(call, value, undefined),
          (/** @type {any} */ error) => endRequest(call, undefined, error ?? new Error('rejected')),
        )
      } else {
        endRequest(call, result, undefined)
      }
    } catch (e) {
      problem('observing a request', e)
    }
    return result
  }
  Object.defineProperty(wrapped, 'name', { value: original.name })
  Object.defineProperty(wrapped, ORIGINAL, { value: original })
  proto[name] = wrapped
}

/**
 * @param {any} protocol
 * @param {any[]} args
 * @param {number} index
 */
function startRequest(protocol, args, index) {
  const request = args[index]
  if (!request || typeof request !== 'object' || typeof request.method !== 'string') return null
  const conn = protocol._transport ? shared().connections.get(protocol._transport) || null : null
  const [name, attrs] = describe(request)
  if (conn) Object.assign(attrs, conn.network)
  const server = serverName(protocol)
  if (server && protocol._serverVersion) attrs[sc.MCP_SERVER_NAME] = server
  const outer = request.method === 'tools/call' ? outerToolSpan(attrs[sc.GEN_AI_TOOL_NAME]) : null
  const boundary = request.method === 'tools/call' && typeof attrs[sc.GEN_AI_TOOL_NAME] === 'string' ? Boundary.admit(attrs[sc.GEN_AI_TOOL_NAME], server, 'mcp') : null
  if (boundary) Object.assign(attrs, boundary.attributes())
  let span = outer
  if (outer) {
    // The framework's tool span is the call (the conventions: no second span); its own arguments
    // and result are already there.
    delete attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS]
    outer.setAttributes(attrs)
  } else {
    span = lib().startSpan(name, { kind: 'client', attributes: attrs, instrumentation: INSTRUMENTATION })
  }
  setConnectionAttributes(conn, protocol, span)
  if (boundary) boundary.start(span)
  const copy = args.slice()
  copy[index] = withTraceContext(request, span)
  /** @type {Exchange} */
  const exchange = { span, method: request.method, progressToken: undefined, borrowed: !!outer }
  return { exchange, conn, protocol, args: copy, id: /** @type {any} */ (undefined), boundary }
}

/**
 * A `tools/call` its open breaker rejects (enforce): not sent; the request resolves to what an MCP
 * server answers for a failed tool, the degraded-mode message with `isError: true` (parsed with
 * the request's result schema when it can be).
 * @param {any} call
 * @param {any} schema
 */
function rejectCall(call, schema) {
  /** @type {any} */
  let result = { content: [{ type: 'text', text: call.boundary.message }], isError: true }
  if (schema && typeof schema.parse === 'function') {
    for (const candidate of [result, { ...result, resultType: 'complete' }]) {
      try {
        result = schema.parse(candidate)
        break
      } catch {}
    }
  }
  endRequest(call, result, undefined)
  return Promise.resolve(result)
}

/**
 * An agent framework's `execute_tool` span running now for the tool `name` (LangChain.js's, when
 * its integration is on), or null.
 * @param {any} name
 */
function outerToolSpan(name) {
  const lookup = /** @type {any} */ (state()).toolSpanFor
  if (typeof name !== 'string' || typeof lookup !== 'function') return null
  try {
    return lookup(name) || null
  } catch (e) {
    problem('looking up the tool run', e)
    return null
  }
}

/**
 * @param {any} call
 * @param {any} value
 * @param {any} error
 */
function endRequest(call, value, error) {
  const { exchange, conn, protocol } = call
  if (conn && call.id !== undefined) conn.outgoing.delete(call.id)
  try {
    if (exchange.borrowed) settleBorrowed(exchange, value, error)
    else settle(exchange, conn, value, error)
    const boundary = call.boundary
    if (boundary && boundary.rejected) boundary.finish(exchange.span)
    else if (boundary && error !== undefined) boundary.finish(exchange.span, { error, statusCode: error && Number.isInteger(error.code) ? error.code : undefined })
    else if (boundary) boundary.finish(exchange.span, { payload: !!(value && typeof value === 'object' && value.isError === true) })
    setConnectionAttributes(conn, protocol, exchange.span)
    if (exchange.method === 'initialize') {
      const server = value && value.serverInfo && value.serverInfo.name
      if (typeof server === 'string' && server) exchange.span.setAttribute(sc.MCP_SERVER_NAME, server)
    }
  } catch (e) {
    problem('ending a client span', e)
  }
  // A framework's tool span ends with its tool run.
  if (!exchange.borrowed) exchange.span.end()
}

/**
 * The end of a `tools/call` made in a framework's tool span: the JSON-RPC error, or `isError` (a
 * failed tool call whatever the tool returns); the tool run records its own result.
 * @param {Exchange} exchange
 * @param {any} result
 * @param {any} error
 */
function settleBorrowed(exchange, result, error) {
  if (error !== undefined) {
    settle(exchange, null, undefined, error)
  } else if (result && typeof result === 'object' && result.isError === true) {
    exchange.span.setAttribute(sc.ERROR_TYPE, sc.TOOL_ERROR)
    exchange.span.setStatus('error', firstText(result.content).slice(0, MAX_DESCRIPTION))
  }
}

// ---- both sides: the transport, from connect() on ------------------------------------------------

/**
 * Wraps `Protocol.prototype.connect`: the transport's `onmessage` and `send` are wrapped when
 * the SDK starts it (after it set its own handlers).
 * @param {any} proto
 */
function wrapConnect(proto) {
  const original = proto.connect
  if (typeof original !== 'function' || original[ORIGINAL]) return
  /** @this {any} */
  const wrapped = function (/** @type {any[]} */ ...args) {
    const transport = args[0]
    if (recording() && transport && typeof transport === 'object' && typeof transport.start === 'function' && !transport[HOOKED]) {
      try {
        beforeStart(this, transport)
      } catch (e) {
        problem('watching a transport', e)
      }
    }
    return original.apply(this, args)
  }
  Object.defineProperty(wrapped, 'name', { value: original.name })
  Object.defineProperty(wrapped, ORIGINAL, { value: original })
  proto.connect = wrapped
}

/**
 * @param {any} protocol
 * @param {any} transport
 */
function beforeStart(protocol, transport) {
  const own = Object.prototype.hasOwnProperty.call(transport, 'start')
  const start = transport.start
  const session = store().activeSpan()
  transport.start = function (/** @type {any[]} */ ...args) {
    if (own) transport.start = start
    else delete transport.start
    try {
      hookTransport(protocol, transport, session && typeof session.isRecording === 'function' && session.isRecording() ? session : null)
    } catch (e) {
      problem('watching a transport', e)
    }
    return start.apply(this, args)
  }
}

/**
 * @param {any} protocol
 * @param {any} transport
 * @param {any} session
 */
function hookTransport(protocol, transport, session) {
  if (transport[HOOKED]) return
  const inner = transport.onmessage
  const send = transport.send
  if (typeof inner !== 'function' || typeof send !== 'function') return
  const conn = new Connection(transport, session)
  shared().connections.set(transport, conn)
  Object.defineProperty(transport, HOOKED, { value: true })
  transport.onmessage = function (/** @type {any} */ message, /** @type {any} */ extra) {
    if (!recording()) return inner.call(this, message, extra)
    let span = null
    try {
      span = received(protocol, conn, message)
    } catch (e) {
      problem('reading a message', e)
    }
    if (!span) return inner.call(this, message, extra)
    return store().runWithSpan(span, inner, this, [message, extra])
  }
  transport.send = function (/** @type {any} */ message, /** @type {any} */ options) {
    if (conn.incoming.size || recording()) {
      try {
        sent(protocol, conn, message, options)
      } catch (e) {
        problem('reading a message sent', e)
      }
    }
    return send.call(this, message, options)
  }
  const onclose = transport.onclose
  transport.onclose = function (/** @type {any[]} */ ...args) {
    // Requests never answered end with the connection (the client side's promises reject).
    for (const exchange of conn.incoming.values()) exchange.span.end()
    conn.incoming.clear()
    if (typeof onclose === 'function') return onclose.apply(this, args)
  }
}

/**
 * A message from the peer. A request starts a SERVER span (returned: the SDK handles it in it).
 * @param {any} protocol
 * @param {Connection} conn
 * @param {any} message
 * @returns {any} the span to handle the message in, or null
 */
function received(protocol, conn, message) {
  if (!message || typeof message !== 'object' || typeof message.method !== 'string') return null
  if (message.id === undefined || message.id === null) {
    notified(conn, message, null, true)
    return null
  }
  const [name, attrs] = describe(message)
  Object.assign(attrs, conn.network)
  delete attrs[sc.SERVER_ADDRESS]
  delete attrs[sc.SERVER_PORT]
  attrs[sc.JSONRPC_REQUEST_ID] = String(message.id)
  const server = serverName(protocol)
  if (server && !protocol._serverVersion) attrs[sc.MCP_SERVER_NAME] = server
  const meta = message.params && typeof message.params === 'object' ? message.params._meta : undefined
  const parent = lib().extract(meta && typeof meta === 'object' ? meta : {})
  const span = lib().startSpan(name, { kind: 'server', parent, attributes: attrs, instrumentation: INSTRUMENTATION })
  setConnectionAttributes(conn, protocol, span)
  if (message.method === 'initialize' && message.params && typeof message.params.protocolVersion === 'string') {
    span.setAttribute(sc.MCP_PROTOCOL_VERSION, message.params.protocolVersion)
  }
  const previous = conn.incoming.get(message.id)
  if (previous) previous.span.end()
  conn.incoming.set(message.id, { span, method: message.method, progressToken: meta && typeof meta === 'object' ? meta.progressToken : undefined })
  return span
}

/**
 * A message this side sends: a response ends the SERVER span of its request; a notification is
 * an event.
 * @param {any} protocol
 * @param {Connection} conn
 * @param {any} message
 * @param {any} options
 */
function sent(protocol, conn, message, options) {
  if (!message || typeof message !== 'object') return
  if (typeof message.method === 'string') {
    if (message.id === undefined) notified(conn, message, options, false)
    return
  }
  const exchange = conn.incoming.get(message.id)
  if (!exchange) return
  conn.incoming.delete(message.id)
  try {
    settle(exchange, conn, message.result, message.error === undefined ? undefined : message.error || {})
    setConnectionAttributes(conn, protocol, exchange.span)
  } catch (e) {
    problem('ending a server span', e)
  }
  exchange.span.end()
}

/**
 * A notification, received or sent: an `mcp.notification` event on the span it belongs to.
 * @param {Connection} conn
 * @param {any} message
 * @param {any} options the SDK's send options (sent notifications)
 * @param {boolean} inbound
 */
function notified(conn, message, options, inbound) {
  const method = message.method
  if (SILENT.has(method)) return
  const params = message.params && typeof message.params === 'object' ? message.params : {}
  /** @type {Exchange | undefined} */
  let exchange
  if (method === 'notifications/progress') {
    exchange = byToken(conn, params.progressToken)
  } else if (method === 'notifications/cancelled') {
    exchange = (inbound ? conn.incoming : conn.outgoing).get(params.requestId)
  }
  if (!exchange && !inbound && options && options.relatedRequestId !== undefined) exchange = conn.incoming.get(options.relatedRequestId)
  let span = exchange ? exchange.span : null
  if (!span && !inbound) {
    // Sent from inside a handler (a tool logging): the handler's span.
    const active = store().activeSpan()
    if (active && typeof active.isRecording === 'function' && active.isRecording()) span = active
  }
  if (!span && inbound && conn.outgoing.size === 1) span = [...conn.outgoing.values()][0].span
  if (!span) span = conn.session
  if (span) span.addEvent(sc.MCP_NOTIFICATION_EVENT, notificationAttributes(method, params))
  if (inbound && method === 'notifications/cancelled' && exchange) {
    // The SDK sends no response to a cancelled request.
    conn.incoming.delete(params.requestId)
    exchange.span.end()
  }
}

/**
 * @param {Connection} conn
 * @param {any} token
 * @returns {Exchange | undefined}
 */
function byToken(conn, token) {
  if (token === undefined || token === null) return undefined
  for (const map of [conn.outgoing, conn.incoming]) {
    for (const exchange of map.values()) if (exchange.progressToken === token) return exchange
  }
  return undefined
}

/**
 * @param {string} method
 * @param {any} params
 */
function notificationAttributes(method, params) {
  /** @type {Record<string, any>} */
  const attrs = { [sc.MCP_METHOD_NAME]: method }
  if (method === 'notifications/progress') {
    if (typeof params.progress === 'number') attrs[sc.FIVELENS_MCP_PROGRESS] = params.progress
    if (typeof params.total === 'number') attrs[sc.FIVELENS_MCP_PROGRESS_TOTAL] = params.total
    if (shared().capture && typeof params.message === 'string') attrs[sc.FIVELENS_MCP_NOTIFICATION_DATA] = params.message
  } else if (method === 'notifications/message') {
    if (typeof params.level === 'string') attrs[sc.FIVELENS_MCP_LOG_LEVEL] = params.level
    if (shared().capture && params.data !== undefined) attrs[sc.FIVELENS_MCP_NOTIFICATION_DATA] = typeof params.data === 'string' ? params.data : toJson(params.data)
  } else if (method === 'notifications/resources/updated' && typeof params.uri === 'string') {
    attrs[sc.MCP_RESOURCE_URI] = params.uri
  }
  return attrs
}

// ---- finding and patching the SDKs ---------------------------------------------------------------

/**
 * Patches a `Protocol` class (every client and server of that copy of the SDK).
 * @param {any} Protocol
 * @returns {boolean}
 */
function patchProtocol(Protocol) {
  const proto = Protocol && Protocol.prototype
  if (!proto || typeof proto.connect !== 'function' || typeof proto._onrequest !== 'function') return false
  wrapConnect(proto)
  // 2.x funnels every request through `_requestWithSchemaViaCodec`; 1.x through `request`.
  if (typeof proto._requestWithSchemaViaCodec === 'function') wrapRequest(proto, '_requestWithSchemaViaCodec', 1)
  else wrapRequest(proto, 'request', 0)
  return true
}

/**
 * The `Protocol` class behind what a module exports (the class itself, or a client or server
 * class extending it).
 * @param {any} value
 * @returns {any}
 */
function protocolOf(value) {
  if (typeof value !== 'function' || !value.prototype) return null
  for (let p = value.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    if (Object.prototype.hasOwnProperty.call(p, '_onrequest') && Object.prototype.hasOwnProperty.call(p, 'connect')) return p.constructor
  }
  return null
}

/**
 * Patches what a module exports; returns whether it held an MCP `Protocol` (directly, or behind
 * `Client`, `Server`...).
 * @param {any} mod
 * @returns {boolean}
 */
function patchExports(mod) {
  if (!mod || (typeof mod !== 'object' && typeof mod !== 'function')) return false
  let known = false
  const candidates = typeof mod === 'function' ? [mod] : [mod.Protocol, mod.Client, mod.Server]
  for (const c of candidates) {
    const Protocol = protocolOf(c)
    if (Protocol) known = patchProtocol(Protocol) || known
  }
  return known
}

/**
 * For bundled apps: the SDK modules as imported, one or several (an array or an object of them):
 * 1.x `@modelcontextprotocol/sdk/shared/protocol.js` (or `.../client/index.js`,
 * `.../server/index.js`), 2.x `@modelcontextprotocol/client` and `@modelcontextprotocol/server`,
 * or their `Client` / `Server` / `Protocol` classes.
 * @param {any} modules
 * @returns {boolean} whether any was an MCP SDK module
 */
function patchModule(modules) {
  const list = Array.isArray(modules) ? modules : modules && typeof modules === 'object' && !('Protocol' in modules || 'Client' in modules || 'Server' in modules) ? Object.values(modules) : [modules]
  let known = false
  for (const mod of list) known = patchExports(mod) || known
  if (known) configure()
  return known
}

function configure() {
  const native = state().native
  try {
    shared().capture = !!(native && native.captureContent())
  } catch {
    shared().capture = false
  }
}

/** @param {string} root */
function packageJson(root) {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  } catch {
    return null
  }
}

/** @param {any} pkg */
const major = (pkg) => Number(String(pkg && pkg.version).split('.')[0])

/**
 * The CommonJS and ES module entry files of a 2.x package (from its `exports`).
 * @param {string} root
 * @param {any} pkg
 * @returns {[string | null, string | null]}
 */
function entries(root, pkg) {
  const dot = pkg && pkg.exports && pkg.exports['.']
  /** @param {any} e */
  const pick = (e) => {
    for (let i = 0; e && typeof e === 'object' && i < 4; i++) e = e.default ?? e.node
    return typeof e === 'string' ? path.join(root, e) : null
  }
  const exists = (/** @type {string | null} */ p) => (p && fs.existsSync(p) ? p : null)
  return [exists(dot ? pick(dot.require) : path.join(root, 'dist/index.cjs')), exists(dot ? pick(dot.import) : path.join(root, 'dist/index.mjs'))]
}

/**
 * Patches the MCP SDKs the app resolves: CommonJS copies when the app requires them (or now, if it
 * has), ES module copies now.
 * @returns {string | undefined} why it was skipped
 */
function instrument() {
  /** @type {Array<[string | null, string | null]>} */
  const targets = []
  /** @type {string[]} */
  const unsupported = []
  // (1.x has no main entry: its `exports` maps subpaths only.)
  const sdk = stainless.resolveFromApp('@modelcontextprotocol/sdk', '@modelcontextprotocol/sdk/shared/protocol.js')
  if (sdk) {
    const pkg = packageJson(sdk)
    if (major(pkg) === 1) {
      const file = (/** @type {string} */ rel) => (fs.existsSync(path.join(sdk, rel)) ? path.join(sdk, rel) : null)
      targets.push([file('dist/cjs/shared/protocol.js'), file('dist/esm/shared/protocol.js')])
    } else {
      unsupported.push(`@modelcontextprotocol/sdk ${pkg ? pkg.version : '(unknown version)'}`)
    }
  }
  for (const name of ['@modelcontextprotocol/client', '@modelcontextprotocol/server']) {
    const root = stainless.resolveFromApp(name)
    if (!root) continue
    const pkg = packageJson(root)
    if (major(pkg) === 2) targets.push(entries(root, pkg))
    else unsupported.push(`${name} ${pkg ? pkg.version : '(unknown version)'}`)
  }
  const found = targets.filter(([cjs, esm]) => cjs || esm)
  if (!found.length) {
    return unsupported.length ? `${unsupported.join(', ')} not supported (@modelcontextprotocol/sdk 1.x, @modelcontextprotocol/client and /server 2.x are)` : 'no MCP SDK is installed'
  }
  configure()
  for (const [cjs, esm] of found) {
    // (`patchExports` is false while a CommonJS module is still loading: tried again later.)
    if (cjs) stainless.whenRequired(cjs, patchExports)
    if (esm) stainless.withEsm(esm, patchExports)
  }
  return undefined
}

module.exports = { instrument, patchModule, INSTRUMENTATION }
