// Stand-in for Prisma's native `query-engine` binary, which cannot be downloaded on
// this machine. prisma-client-py starts it exactly as it starts the real one
// (PRISMA_QUERY_ENGINE_BINARY, then `--version`, then `-p PORT ...`) and talks to it
// over the engine's HTTP protocol; underneath runs the real engine compiled to
// WebAssembly (engine.mjs), fed by the GraphQL -> JSON protocol translator.
//
// Environment: PRISMA_DML_PATH (set by prisma-client-py), the datasource variable
// (DATABASE_URL) or OVERWRITE_DATASOURCES, and LITEMAAS_ENGINE_NODE_MODULES: the
// installer's npm directory (sandbox/src/sandbox/litellm/install.sh).

import http from 'node:http'
import { readFileSync } from 'node:fs'

import { UnsupportedRequest, datasourceUrl, parseDatamodel } from './datamodel.mjs'
import { loadEngineModules, startEngine } from './engine.mjs'
import { HttpError, makeHandler, tracer } from './protocol.mjs'
import { Translator } from './translate.mjs'

export const ENGINE_COMMIT = '393aa359c9ad4a4bb28630fb5613f9c281cde053'
const ACCEPTED_FLAGS = new Set(['--enable-metrics', '--enable-raw-queries', '--enable-playground'])
const MAX_BODY_BYTES = 64 * 1024 * 1024

function log(level, message) {
  process.stderr.write(`litemaas-query-engine ${level}: ${message}\n`)
}

function parseArgs(argv) {
  let port = null
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '-p' || arg === '--port') port = Number(argv[++i])
    else if (!ACCEPTED_FLAGS.has(arg)) throw new Error(`unsupported argument ${arg}`)
  }
  if (!Number.isInteger(port) || port <= 0) throw new Error('missing or invalid -p PORT')
  return { port }
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    request.on('data', (chunk) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) reject(new HttpError(413, 'request body too large'))
      else chunks.push(chunk)
    })
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    request.on('error', reject)
  })
}

function serve(route, port) {
  const server = http.createServer(async (request, response) => {
    let status = 200
    let payload
    try {
      const text = await readBody(request)
      payload = await route(request.method, request.url, text, request.headers)
    } catch (error) {
      if (error instanceof UnsupportedRequest) {
        // Loud on both sides: prisma-client-py raises EngineRequestError with this
        // text, and the proxy's stderr carries it for whoever reads the log.
        status = 400
        log('error', `UNSUPPORTED ENGINE REQUEST: ${error.message}`)
      } else if (error instanceof HttpError) {
        status = error.status
        log('error', error.message)
      } else {
        status = 500
        log('error', `engine failure: ${error.stack ?? error}`)
      }
      payload = { error: `litemaas query-engine stand-in: ${error.message}` }
    }
    const body = JSON.stringify(payload)
    response.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    })
    response.end(body)
  })
  // Longer than httpx's idle expiry (5 s), so the client always closes an idle
  // connection first and never reuses one the server is closing.
  server.keepAliveTimeout = 60_000
  server.headersTimeout = 61_000
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    // prisma-client-py connects to http://localhost:PORT; loopback only.
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}

async function main(argv) {
  if (argv[0] === '--version' || argv[0] === '-V') {
    process.stdout.write(`query-engine ${ENGINE_COMMIT}\n`)
    return
  }
  const { port } = parseArgs(argv)
  const nodeModules = process.env.LITEMAAS_ENGINE_NODE_MODULES
  if (!nodeModules) throw new Error('LITEMAAS_ENGINE_NODE_MODULES is not set (run sandbox/src/sandbox/litellm/install.sh)')
  const dmlPath = process.env.PRISMA_DML_PATH
  if (!dmlPath) throw new Error('PRISMA_DML_PATH is not set')
  const datamodelText = readFileSync(dmlPath, 'utf8')
  const datamodel = parseDatamodel(datamodelText)
  const modules = await loadEngineModules(nodeModules)
  const url = datasourceUrl(datamodelText, process.env)
  const { engine, close } = await startEngine({ modules, datamodelText, url, log })
  const translator = new Translator({ datamodel, parse: modules.graphql.parse, Kind: modules.graphql.Kind })
  const server = await serve(makeHandler({ engine, translator, trace: tracer(process.env.LITEMAAS_ENGINE_TRACE) }), port)

  let stopping = false
  const stop = async (code) => {
    if (stopping) return
    stopping = true
    // Never hang on shutdown: prisma-client-py escalates to SIGKILL anyway.
    setTimeout(() => process.exit(code), 2000).unref()
    server.close()
    try {
      await close()
    } finally {
      process.exit(code)
    }
  }
  process.on('SIGINT', () => stop(0))
  process.on('SIGTERM', () => stop(0))
  // The native engine dies with its parent's pipe; a Node process would linger as an
  // orphan holding database connections if the proxy were killed with SIGKILL.
  const parent = process.ppid
  setInterval(() => {
    if (process.ppid !== parent) {
      log('error', 'parent process is gone; exiting')
      stop(1)
    }
  }, 1000).unref()
}

// A WebAssembly panic surfaces as an uncaught "RuntimeError: unreachable" and leaves the
// engine's memory in an unknown state: say so and exit; LiteLLM notices the dead engine
// and starts a new one.
for (const event of ['uncaughtException', 'unhandledRejection']) {
  process.on(event, (error) => {
    log('error', `engine crashed (${event}): ${error?.stack ?? error}`)
    process.exit(70)
  })
}

main(process.argv.slice(2)).catch((error) => {
  log('error', error.stack ?? String(error))
  process.exit(1)
})
