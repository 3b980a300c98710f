// An MCP server on the 2.x SDK (`@modelcontextprotocol/server`, ES modules), run over stdio as a
// child process by the tests. Instrumented by instrument() alone (the SDK imported first). Does
// nothing unless FIVELENS_MCP_TEST_SERVER is set (the test runner runs every file under test/).

import { McpServer } from '@modelcontextprotocol/server'
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio'
import { z } from 'zod'
import { createRequire } from 'node:module'
import * as fivelens from '../index.mjs'

const require = createRequire(import.meta.url)
const { register } = require('./mcp_tools.js')

if (process.env.FIVELENS_MCP_TEST_SERVER) {
  const report = fivelens.instrument()
  if (!report.enabled.includes('mcp')) throw new Error(`mcp not enabled: ${JSON.stringify(report)}`)
  const server = new McpServer({ name: 'weather-v2', version: '2.0.0' }, { capabilities: { logging: {} } })
  register(server, z, fivelens, 2)
  await server.connect(new StdioServerTransport())
}
