'use strict'
// Trace and span ids from a pooled buffer of OS randomness (one randomFillSync per 512 ids),
// hex-encoded through a lookup table; and wall-clock times in milliseconds with microsecond
// precision.

const crypto = require('node:crypto')
const { performance } = require('node:perf_hooks')

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
const POOL = Buffer.allocUnsafe(4096)
let offset = POOL.length

/**
 * @param {number} bytes
 * @returns {string}
 */
function randomHex(bytes) {
  if (offset + bytes > POOL.length) {
    crypto.randomFillSync(POOL)
    offset = 0
  }
  let out = ''
  let zero = true
  for (let i = 0; i < bytes; i++) {
    const b = POOL[offset + i]
    if (b !== 0) zero = false
    out += HEX[b]
  }
  offset += bytes
  return zero ? randomHex(bytes) : out // all-zero ids are invalid
}

const traceId = () => randomHex(16)
const spanId = () => randomHex(8)

const ORIGIN = performance.timeOrigin
/** Milliseconds since the epoch, with sub-millisecond precision. */
const now = () => ORIGIN + performance.now()

/**
 * A user-given time (Date, epoch ms, or an OTel HrTime [seconds, nanos]) in epoch ms.
 * @param {any} t
 * @returns {number | undefined}
 */
function toEpochMs(t) {
  if (t === undefined || t === null) return undefined
  if (typeof t === 'number') return t
  if (t instanceof Date) return t.getTime()
  if (Array.isArray(t) && t.length === 2) return t[0] * 1e3 + t[1] / 1e6
  return undefined
}

module.exports = { traceId, spanId, now, toEpochMs }
