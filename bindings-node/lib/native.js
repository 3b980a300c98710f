'use strict'
// Loads the native addon. If it cannot load (an unsupported platform, a broken install), the
// package degrades to a no-op with one warning instead of throwing into the app.

const path = require('node:path')

/** The JS <-> native batch format version this file speaks (see `API_VERSION` in src/lib.rs). */
const API_VERSION = 1

function libc() {
  if (process.platform !== 'linux') return ''
  try {
    const report = process.report && process.report.getReport()
    const header = report && (typeof report === 'string' ? JSON.parse(report) : report).header
    return header && header.glibcVersionRuntime ? '-gnu' : '-musl'
  } catch {
    return '-gnu'
  }
}

/** The addon's file name for this platform: `fivelens.<platform>-<arch>[-gnu|-musl].node`. */
function addonFileName() {
  return `fivelens.${process.platform}-${process.arch}${libc()}.node`
}

/** @returns {any} the addon, or null */
function load() {
  const name = addonFileName()
  const candidates = [
    process.env.FIVELENS_NATIVE_PATH,
    path.join(__dirname, '..', name),
    `@fivelens/${process.platform}-${process.arch}`,
  ].filter(Boolean)
  const errors = []
  for (const candidate of candidates) {
    try {
      const addon = require(/** @type {string} */ (candidate))
      if (addon.API_VERSION !== API_VERSION) {
        errors.push(`${candidate}: API version ${addon.API_VERSION}, expected ${API_VERSION}`)
        continue
      }
      return addon
    } catch (e) {
      errors.push(`${candidate}: ${e && /** @type {Error} */ (e).message}`)
    }
  }
  process.emitWarning(
    `fivelens: the native addon could not be loaded, so fivelens does nothing (${errors.join('; ')})`,
    { code: 'FIVELENS_NO_NATIVE' },
  )
  return null
}

module.exports = { load, addonFileName, API_VERSION }
