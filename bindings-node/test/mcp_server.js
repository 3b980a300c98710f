'use strict'
// An MCP server on the 1.x SDK (CommonJS), run as a child process by the tests: over stdio, or
// with `--http` over Streamable HTTP on 127.0.0.1 (it prints `READY {port}`, and stops when its
// stdin ends). Instrumented by instrument() alone; the service name comes from
// OTEL_SERVICE_NAME. Does nothing unless FIVELENS_MCP_TEST_SERVER is set (the test runner runs
// every file under test/).

if (process.env.FIVELENS_MCP_TEST_SERVER) main()

function main() {
  const fivelens = require('..')
  const report = fivelens.instrument()
  if (!report.enabled.includes('mcp')) throw new Error(`mcp not enabled: ${JSON.stringify(report)}`)

  const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js')
  const { z } = require('zod')
  const { register } = require('./mcp_tools')
  const server = () => {
    const s = new McpServer({ name: 'weather', version: '1.0.0' }, { capabilities: { logging: {} } })
    register(s, z, fivelens, 1)
    return s
  }

  if (!process.argv.includes('--http')) {
    const { StdioServerTransport } = require('@modelcontextprotocol/sdk/server/stdio.js')
    server().connect(new StdioServerTransport())
    return
  }
  const http = require('node:http')
  const { randomUUID } = require('node:crypto')
  const { StreamableHTTPServerTransport } = require('@modelcontextprotocol/sdk/server/streamableHttp.js')
  /** @type {Map<string, any>} */
  const sessions = new Map()
  const httpServer = http.createServer(async (req, res) => {
    const chunks = []
    for await (const c of req) chunks.push(c)
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined
    const id = req.headers['mcp-session-id']
    let transport = typeof id === 'string' ? sessions.get(id) : undefined
    if (!transport) {
      transport = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, onsessioninitialized: (sid) => sessions.set(sid, transport) })
      await server().connect(transport)
    }
    await transport.handleRequest(req, res, body)
  })
  httpServer.listen(0, '127.0.0.1', () => console.log(`READY ${/** @type {any} */ (httpServer.address()).port}`))
  process.stdin.on('end', () => {
    httpServer.close()
    for (const t of sessions.values()) t.close()
    fivelens.shutdown().then(() => process.exit(0))
  })
  process.stdin.resume()
}
