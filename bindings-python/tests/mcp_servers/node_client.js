'use strict'
// The Node side of the cross-language MCP tests (test_mcp_cross.py): an MCP client on the
// TypeScript SDK, instrumented by fivelens's Node package (bindings-node, the built addon), that
// starts a Python MCP server over stdio and calls its `get_weather` tool inside a span of its own.
// Run with bindings-node as the working directory (the app folder the SDKs resolve from).
// Exports to OTEL_EXPORTER_OTLP_ENDPOINT; prints the tool result and the agent span's ids as JSON.
//
//     node node_client.js LINE PYTHON SERVER_SCRIPT
//
// LINE is the SDK line: 1 (`@modelcontextprotocol/sdk`) or 2 (`@modelcontextprotocol/client`).

const path = require('node:path')
const { createRequire } = require('node:module')

const PKG = path.resolve(__dirname, '..', '..', '..', 'bindings-node')
// The SDKs as an app next to fivelens would resolve them (bindings-node's devDependencies).
const requireFromPkg = createRequire(path.join(PKG, 'package.json'))

async function main() {
  const [line, python, script] = process.argv.slice(2)
  const fivelens = requireFromPkg(PKG)
  const report = fivelens.instrument({ serviceName: 'node-mcp-agent', store: 'off' })
  if (!report.enabled.includes('mcp')) throw new Error(`mcp not enabled: ${JSON.stringify(report)}`)
  const { Client } = requireFromPkg(line === '1' ? '@modelcontextprotocol/sdk/client/index.js' : '@modelcontextprotocol/client')
  const { StdioClientTransport } = requireFromPkg(line === '1' ? '@modelcontextprotocol/sdk/client/stdio.js' : '@modelcontextprotocol/client/stdio')

  const out = {}
  await fivelens.withSpan('node agent turn', async (span) => {
    out.trace_id = span.traceId
    out.span_id = span.spanId
    // The server inherits this process's environment (the receiver's endpoint, the store folder).
    const transport = new StdioClientTransport({ command: python, args: [script, 'stdio'], env: { ...process.env }, stderr: 'inherit' })
    const client = new Client({ name: 'node-agent', version: '1.0.0' })
    await client.connect(transport)
    const result = await client.callTool({ name: 'get_weather', arguments: { city: 'Paris' } })
    out.text = result.content[0].text
    out.is_error = result.isError === true
    await client.close()
  })
  await fivelens.shutdown()
  console.log(JSON.stringify(out))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
