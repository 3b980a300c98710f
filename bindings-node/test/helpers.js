'use strict'
// Shared test support: the repository's loopback OTLP receiver, and fresh Node processes for
// the cases that need clean global state.

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')

const REPO = path.resolve(__dirname, '..', '..')
const PKG = path.resolve(__dirname, '..')

/** Temporary directories made by these helpers, removed when the test process exits. */
const tempDirs = []
process.on('exit', () => {
  for (const dir of tempDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true })
    } catch {}
  }
})

/** A fresh temporary directory, removed at exit. */
function tempDir(prefix = 'fivelens-node-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  tempDirs.push(dir)
  return dir
}

function receiverBinary() {
  if (process.env.FIVELENS_OTLP_RECEIVER) return process.env.FIVELENS_OTLP_RECEIVER
  const target = process.env.CARGO_TARGET_DIR || path.join(REPO, 'target')
  for (const profile of ['debug', 'release']) {
    const p = path.join(target, profile, 'otlp-receiver')
    if (fs.existsSync(p)) return p
  }
  throw new Error('otlp-receiver is not built: run `cargo build -p fivelens-tests --bin otlp-receiver` (make test does)')
}

/** A running loopback receiver. */
async function startReceiver({ grpc = false, port = 0 } = {}) {
  const args = ['--port', String(port)]
  if (grpc) args.push('--grpc')
  const proc = spawn(receiverBinary(), args, { stdio: ['pipe', 'pipe', 'inherit'] })
  const rl = readline.createInterface({ input: proc.stdout })
  const line = await new Promise((resolve, reject) => {
    rl.once('line', resolve)
    proc.once('exit', (code) => reject(new Error(`receiver exited ${code}`)))
  })
  if (!String(line).startsWith('READY ')) throw new Error(`receiver: ${line}`)
  const ready = JSON.parse(String(line).slice(6))
  const call = async (method, p, body) => {
    const res = await fetch(ready.http + p, { method, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    return text ? JSON.parse(text) : null
  }
  return {
    endpoint: ready.http,
    grpcEndpoint: ready.grpc,
    spans: () => call('GET', '/spans'),
    metrics: () => call('GET', '/metrics'),
    logs: () => call('GET', '/logs'),
    async waitForLogs(n, timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const logs = await call('GET', '/logs')
        if (logs.length >= n || Date.now() > deadline) return logs
        await new Promise((r) => setTimeout(r, 20))
      }
    },
    headers: () => call('GET', '/headers'),
    control: (faults) => call('POST', '/control', faults),
    async waitFor(n, timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const spans = await call('GET', '/spans')
        if (spans.length >= n || Date.now() > deadline) return spans
        await new Promise((r) => setTimeout(r, 20))
      }
    },
    stop() {
      proc.stdin.end()
      return new Promise((r) => {
        if (proc.exitCode !== null) return r()
        proc.once('exit', r)
      })
    },
  }
}

/** Spans by name (names are unique within a test). */
function byName(spans) {
  const out = {}
  for (const s of spans) {
    if (out[s.name]) throw new Error(`duplicate span name ${s.name}`)
    out[s.name] = s
  }
  return out
}

/** Runs a script in a fresh Node process; returns {status, stdout, stderr}. */
function runNode(code, { env = {}, input, ext = '.js', timeout = 60000, cwd = PKG } = {}) {
  const dir = tempDir()
  const file = path.join(dir, `main${ext}`)
  fs.writeFileSync(file, code)
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')))
  const res = spawnSync(process.execPath, [file], {
    env: { FIVELENS_HOME: path.join(dir, 'home'), FIVELENS_USER_HASH_KEY: 'node-test-key', NODE_PATH: path.join(PKG, 'node_modules'), ...cleanEnv, ...env },
    input,
    encoding: 'utf8',
    timeout,
    cwd,
  })
  return { status: res.status, stdout: res.stdout, stderr: res.stderr, dir }
}

/**
 * The repository's fake OpenAI / Anthropic server (tests/fake_llm_server.py) on a free loopback
 * port: `url` (no `/v1`), the requests it received, and `stop()`.
 */
async function startFakeLlm() {
  const proc = spawn('python3', [path.join(REPO, 'tests', 'fake_llm_server.py')], { stdio: ['pipe', 'pipe', 'inherit'] })
  const rl = readline.createInterface({ input: proc.stdout })
  const line = await new Promise((resolve, reject) => {
    rl.once('line', resolve)
    proc.once('exit', (code) => reject(new Error(`fake LLM server exited ${code}`)))
  })
  if (!String(line).startsWith('READY ')) throw new Error(`fake LLM server: ${line}`)
  const { url } = JSON.parse(String(line).slice(6))
  return {
    url,
    /** @returns {Promise<any[]>} */
    async requests() {
      return (await fetch(url + '/requests')).json()
    },
    async clear() {
      await fetch(url + '/requests', { method: 'DELETE' })
    },
    stop() {
      proc.stdin.end()
      return new Promise((r) => {
        if (proc.exitCode !== null) return r()
        proc.once('exit', r)
      })
    },
  }
}

function freePort() {
  const net = require('node:net')
  return new Promise((resolve) => {
    const srv = net.createServer()
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

module.exports = { startReceiver, startFakeLlm, byName, byCase: (s) => require('./scenarios').byCase(s), runNode, freePort, tempDir, PKG, REPO }
