'use strict'
// Attribute values from JavaScript to the core's types. Never throws: unknown objects become
// `<ClassName>`; a class instance's own toJSON/toString is never called (it can be arbitrarily
// expensive), only plain objects and arrays are serialized, to a bounded depth.

const MAX_DEPTH = 8

/** @param {string} s */
function wellFormed(s) {
  // Lone surrogates are not valid UTF-8; the core's JSON reader would refuse the whole batch.
  // @ts-ignore - String.prototype.isWellFormed is in Node 20+
  if (typeof s.isWellFormed === 'function') return s.isWellFormed() ? s : s.toWellFormed()
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
}

/** @param {any} v */
function label(v) {
  if (typeof v === 'function') return `<function ${v.name || 'anonymous'}>`
  if (typeof v === 'symbol') return '<symbol>'
  const ctor = v && v.constructor
  return `<${(ctor && typeof ctor.name === 'string' && ctor.name) || 'Object'}>`
}

/** @param {any} v */
function isPlain(v) {
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/**
 * A value as JSON-ready data (for objects and mixed arrays).
 * @param {any} v
 * @param {number} depth
 * @returns {any}
 */
function plain(v, depth) {
  switch (typeof v) {
    case 'string':
      return wellFormed(v)
    case 'number':
      return Number.isFinite(v) ? v : String(v)
    case 'boolean':
      return v
    case 'bigint':
      return v.toString()
    case 'undefined':
      return null
    case 'object':
      if (v === null) return null
      if (depth >= MAX_DEPTH) return label(v)
      if (Array.isArray(v)) return v.map((x) => plain(x, depth + 1))
      if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString()
      if (!isPlain(v)) return label(v)
      {
        /** @type {Record<string, any>} */
        const out = {}
        for (const k of Object.keys(v)) out[wellFormed(k)] = plain(v[k], depth + 1)
        return out
      }
    default:
      return label(v)
  }
}

/**
 * Converts one attribute value; `undefined` means "skip" (null and undefined attributes).
 * @param {any} v
 * @returns {string | number | boolean | string[] | number[] | boolean[] | undefined}
 */
function toAttribute(v) {
  switch (typeof v) {
    case 'string':
      return wellFormed(v)
    case 'number':
      return Number.isFinite(v) ? v : String(v)
    case 'boolean':
      return v
    case 'bigint':
      return v.toString()
    case 'undefined':
      return undefined
    case 'object': {
      if (v === null) return undefined
      if (Array.isArray(v)) {
        if (v.length === 0) return []
        const t = typeof v[0]
        if ((t === 'string' || t === 'number' || t === 'boolean') && v.every((x) => typeof x === t)) {
          if (t === 'string') return v.map(wellFormed)
          if (t === 'number' && !v.every(Number.isFinite)) break
          return v.slice()
        }
        break
      }
      if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString()
      if (!isPlain(v)) return label(v)
      break
    }
    default:
      return label(v)
  }
  try {
    return JSON.stringify(plain(v, 0))
  } catch {
    return label(v)
  }
}

/**
 * Cuts a string to at most `maxBytes` UTF-16 code units (the core then cuts to exact UTF-8
 * bytes); returns [value, truncated].
 * @param {any} v
 * @param {number} maxBytes
 * @returns {[any, boolean]}
 */
function bound(v, maxBytes) {
  if (typeof v === 'string') {
    if (v.length <= maxBytes) return [v, false]
    let cut = maxBytes
    const c = v.charCodeAt(cut - 1)
    if (c >= 0xd800 && c <= 0xdbff) cut -= 1 // do not split a surrogate pair
    return [v.slice(0, cut), true]
  }
  if (Array.isArray(v) && typeof v[0] === 'string') {
    let total = 0
    let truncated = false
    const out = []
    for (const s of v) {
      if (total + s.length > maxBytes) {
        truncated = true
        break
      }
      total += s.length + 2
      out.push(s)
    }
    return [out, truncated]
  }
  return [v, false]
}

module.exports = { toAttribute, bound, wellFormed, label }
