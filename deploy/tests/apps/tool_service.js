// The Node half of the deploy tests' two-process app: an HTTP tool service. Each request joins
// the caller's trace (fivelens instruments `http` servers), runs a tool span with a model call in
// it, and fails with a 500 when asked (?fail=1). Prints {"port": N} once it listens; exits when
// its standard input closes. Configured by the standard OTEL_* variables.
'use strict'
const http = require('http')
const path = require('path')
const fivelens = require(path.resolve(__dirname, '../../../bindings-node'))

fivelens.instrument({ serviceName: 'deploy-tools' })

async function lookup(url) {
  return fivelens.withSpan('execute_tool lookup', { 'gen_ai.tool.name': 'lookup' }, async () => {
    await fivelens.withStage('tools', () =>
      fivelens.withLlmCall({ provider: 'openai', model: 'gpt-4o-mini' }, async (call) => {
        call.setOutput('found it', { finishReasons: ['stop'] })
        call.setUsage({ inputTokens: 40, outputTokens: 8 })
      }),
    )
    if (url.searchParams.get('fail') === '1') throw new Error('the lookup backend is down')
    return 'found'
  })
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1')
  lookup(url).then(
    (body) => res.end(body),
    () => {
      res.statusCode = 500
      res.end('lookup failed')
    },
  )
})

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n')
})
process.stdin.on('end', async () => {
  server.close()
  await fivelens.flush(10000)
  await fivelens.shutdown(10000)
  process.exit(0)
})
process.stdin.resume()
