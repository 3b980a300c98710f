'use strict'
// The app's own logs, correlated with the active span and exported as OTLP logs: `console`, and
// pino and winston when the app has them. Records at or above `logsLevel` are handed to the core
// (lib/logs.js); the app's output is unchanged, except that with `logsInjectContext` pino and
// winston records get `trace_id`, `span_id`, `session_id` and `user_hash` (keys the app set win).
//
// - console: each method is wrapped; the original runs with the same arguments.
// - pino: every logger's `write` (on the prototype all pino loggers share) sees the merged
//   object, the formatted message and the level number after pino's own level filter.
// - winston: `Logger.prototype._transform` sees each `info` that passed the logger's level,
//   before formats and transports.

const path = require('node:path')
const util = require('node:util')
const sc = require('../lib/semconv')
const logs = require('../lib/logs')
const { state } = require('../lib/state')
const stainless = require('./stainless')

const CONSOLE_METHODS = /** @type {const} */ (['log', 'info', 'warn', 'error', 'debug', 'trace'])
const CONSOLE_LEVEL = /** @type {Record<string, string>} */ ({ log: 'info', info: 'info', warn: 'warn', error: 'error', debug: 'debug', trace: 'trace' })
const PINO_LEVEL = /** @type {Record<number, string>} */ ({ 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' })

/** @type {Record<string, any>} */
const originals = {}

/** Whether the app's records are being captured (recording, and `captureLogs` not off). */
const capturing = () => {
  const st = state()
  return st.recording && !!st.config && st.config.capture_logs !== false && !logs.inProgress()
}

const inject = () => {
  const c = state().config
  return !!(c && c.logs_inject_context)
}

function instrumentConsole() {
  if (originals.console) return undefined
  originals.console = {}
  for (const m of CONSOLE_METHODS) {
    const original = console[m]
    if (typeof original !== 'function') continue
    originals.console[m] = original
    const level = CONSOLE_LEVEL[m]
    console[m] = function (/** @type {any[]} */ ...args) {
      if (capturing()) {
        try {
          const severity = logs.severityOf(level)
          if (severity >= logs.threshold()) {
            logs.emit(severity, level.toUpperCase(), util.format(...args), { [sc.FIVELENS_LOG_SOURCE]: 'console' }, { scope: 'console' })
          }
        } catch {}
      }
      return original.apply(this, args)
    }
  }
  return undefined
}

/** @param {any} obj @returns {Record<string, any>} */
function fields(obj) {
  /** @type {Record<string, any>} */
  const out = {}
  if (!obj || typeof obj !== 'object') return out
  for (const k of Object.keys(obj)) {
    if (k === 'err' || k === 'error') {
      const e = obj[k]
      if (e instanceof Error) {
        out[sc.EXCEPTION_TYPE] = e.name
        out[sc.EXCEPTION_MESSAGE] = e.message
        if (e.stack) out[sc.EXCEPTION_STACKTRACE] = e.stack
        continue
      }
    }
    out[k] = obj[k]
  }
  return out
}

/** @param {any} exports the pino/lib/proto.js module (a factory of prototype instances) */
function patchPino(exports) {
  if (originals.pino) return true
  // While the module is still loading its exports are an empty object: try again later.
  if (typeof exports !== 'function') return false
  const proto = Object.getPrototypeOf(exports())
  // Every log method calls the prototype's `[Symbol(pino.write)]` with the merged object, the
  // formatted message and the level number.
  const key = proto && Object.getOwnPropertySymbols(proto).find((k) => k.description === 'pino.write')
  if (!key || typeof proto[key] !== 'function') return true
  const write = proto[key]
  originals.pino = { proto, key, write }
  proto[key] = function (/** @type {any} */ obj, /** @type {any} */ msg, /** @type {number} */ num) {
    if (capturing()) {
      try {
        const level = (this.levels && this.levels.labels && this.levels.labels[num]) || PINO_LEVEL[num] || 'info'
        const severity = logs.severityOf(level)
        if (severity >= logs.threshold()) {
          const body = msg !== undefined ? String(msg) : obj instanceof Error ? obj.message : obj && typeof obj.msg === 'string' ? obj.msg : ''
          const attrs = obj instanceof Error ? fields({ err: obj }) : fields(obj)
          delete attrs.msg
          attrs[sc.FIVELENS_LOG_SOURCE] = 'pino'
          logs.emit(severity, level, body, attrs, { scope: 'pino' })
        }
        if (inject() && (obj === undefined || obj === null || (typeof obj === 'object' && !(obj instanceof Error)))) {
          obj = { ...logs.logContext(), ...(obj || {}) }
        }
      } catch {}
    }
    return write.call(this, obj, msg, num)
  }
  return true
}

/** @param {any} Logger winston's Logger class (lib/winston/logger.js) */
function patchWinston(Logger) {
  if (originals.winston) return true
  if (typeof Logger !== 'function' || !Logger.prototype || typeof Logger.prototype._transform !== 'function') return false
  const proto = Logger.prototype
  const transform = proto._transform
  originals.winston = { proto, transform }
  proto._transform = function (/** @type {any} */ info, /** @type {any} */ enc, /** @type {any} */ callback) {
    if (!this.silent && info && typeof info === 'object' && capturing()) {
      try {
        const level = String(info.level || 'info')
        const severity = logs.severityOf(level)
        if (severity >= logs.threshold()) {
          const attrs = fields(info)
          delete attrs.level
          delete attrs.message
          attrs[sc.FIVELENS_LOG_SOURCE] = 'winston'
          const body = typeof info.message === 'string' ? info.message : util.format(info.message)
          logs.emit(severity, level, body, attrs, { scope: 'winston' })
        }
        if (inject()) {
          for (const [k, v] of Object.entries(logs.logContext())) if (info[k] === undefined) info[k] = v
        }
      } catch {}
    }
    return transform.call(this, info, enc, callback)
  }
  return true
}

/** Patches pino when the app has it (now, or when it loads it). */
function instrumentPino() {
  const root = stainless.resolveFromApp('pino')
  if (!root) return 'pino is not installed'
  stainless.whenRequired(path.join(root, 'lib', 'proto.js'), patchPino)
  return undefined
}

/** Patches winston when the app has it (now, or when it loads it). */
function instrumentWinston() {
  const root = stainless.resolveFromApp('winston')
  if (!root) return 'winston is not installed'
  stainless.whenRequired(path.join(root, 'lib', 'winston', 'logger.js'), patchWinston)
  return undefined
}

/** Undoes every patch (shutdown). */
function uninstrument() {
  if (originals.console) {
    for (const [m, f] of Object.entries(originals.console)) /** @type {any} */ (console)[m] = f
    delete originals.console
  }
  if (originals.pino) {
    originals.pino.proto[originals.pino.key] = originals.pino.write
    delete originals.pino
  }
  if (originals.winston) {
    originals.winston.proto._transform = originals.winston.transform
    delete originals.winston
  }
}

module.exports = { instrumentConsole, instrumentPino, instrumentWinston, uninstrument, patchPino, patchWinston }
