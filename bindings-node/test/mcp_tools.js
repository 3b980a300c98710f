'use strict'
// The MCP server the tests talk to, on either SDK line: the same tools registered on a 1.x or 2.x
// `McpServer`, and the file paths an ES module script imports the SDKs from.

const fs = require('node:fs')
const path = require('node:path')

const PKG = path.resolve(__dirname, '..')

/**
 * The file `specifier` resolves to for `import` (the `import` / `default` condition of the
 * package's `exports`; 1.x maps subpaths with `./*`).
 * @param {string} specifier
 */
function esmPath(specifier) {
  const parts = specifier.split('/')
  const name = parts.slice(0, 2).join('/')
  const sub = '.' + specifier.slice(name.length)
  const root = path.join(PKG, 'node_modules', name)
  const exports = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).exports
  let entry = exports[sub] ?? (exports['./*'] && { import: exports['./*'].import.replace('*', sub.slice(2)) })
  for (let i = 0; entry && typeof entry === 'object' && i < 4; i++) entry = entry.import ?? entry.default
  if (typeof entry !== 'string') throw new Error(`no ES module entry for ${specifier}`)
  return path.join(root, entry)
}

/**
 * Registers the tools on `server` (a 1.x or 2.x `McpServer`):
 * - `get_weather {city}`: a span of its own inside, a log notification and progress (when asked),
 *   `sunny in {city}`;
 * - `echo_meta`: the request's `_meta` as the tool saw it, as JSON;
 * - `fail`: a result with `isError: true`.
 * @param {any} server
 * @param {any} z zod
 * @param {any} fivelens
 * @param {1 | 2} line the SDK line (1.x passes `extra`, 2.x `ctx`)
 */
function register(server, z, fivelens, line) {
  const meta = (/** @type {any} */ extra) => (line === 1 ? extra._meta : extra.mcpReq._meta) || {}
  const notify = (/** @type {any} */ extra, /** @type {any} */ n) => (line === 1 ? extra.sendNotification(n) : extra.mcpReq.notify(n))
  server.registerTool('get_weather', { description: 'Weather for a city', inputSchema: z.object({ city: z.string() }) }, async (/** @type {any} */ args, /** @type {any} */ extra) => {
    await fivelens.withSpan('lookup weather', async () => {
      await notify(extra, { method: 'notifications/message', params: { level: 'info', data: `looking up ${args.city}` } })
    })
    const token = meta(extra).progressToken
    if (token !== undefined) await notify(extra, { method: 'notifications/progress', params: { progressToken: token, progress: 1, total: 2 } })
    // (The SDK's client drops progress that it reads after the response: give it a moment.)
    if (token !== undefined) await new Promise((r) => setTimeout(r, 20))
    return { content: [{ type: 'text', text: `sunny in ${args.city}` }] }
  })
  server.registerTool('echo_meta', { description: 'The request _meta' }, async (/** @type {any} */ extra) => ({
    content: [{ type: 'text', text: JSON.stringify(meta(extra)) }],
  }))
  server.registerTool('fail', { description: 'Always fails' }, async () => ({ isError: true, content: [{ type: 'text', text: 'the weather service is down' }] }))
}

module.exports = { register, esmPath, PKG }
