// The query engine itself: Prisma's engine at the commit prisma-client-py 0.15 expects
// (393aa359), compiled to WebAssembly, reaching PostgreSQL through @prisma/adapter-pg.
// The npm packages live in the installer's cache, not in the repository; their
// node_modules directory is passed in by the caller.

import { createRequire } from 'node:module'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

// pg type OIDs that LiteLLM's catalog queries return and @prisma/adapter-pg 5.17
// refuses as "unsupported native type": `name` (information_schema and pg_catalog
// identifiers) and `name[]`. Both are plain text to every caller.
const NAME_OID = 19
const NAME_ARRAY_OID = 1003
const TEXT_OID = 25
const TEXT_ARRAY_OID = 1009

export async function loadEngineModules(nodeModules) {
  const require = createRequire(path.join(nodeModules, 'package.json'))
  const pg = require('pg')
  const { PrismaPg } = require('@prisma/adapter-pg')
  const { bindAdapter } = require('@prisma/driver-adapter-utils')
  const graphql = require('graphql')
  const wasmDir = path.join(nodeModules, '@prisma', 'query-engine-wasm', 'postgresql')
  const bindings = await import(pathToFileURL(path.join(wasmDir, 'query_engine_bg.js')).href)
  const bytes = await readFile(path.join(wasmDir, 'query_engine_bg.wasm'))
  const { instance } = await WebAssembly.instantiate(bytes, { './query_engine_bg.js': bindings })
  bindings.__wbg_set_wasm(instance.exports)
  patchNameTypes(pg, PrismaPg)
  return { pg, PrismaPg, bindAdapter, graphql, QueryEngine: bindings.QueryEngine }
}

function patchNameTypes(pg, PrismaPg) {
  pg.types.setTypeParser(NAME_ARRAY_OID, pg.types.getTypeParser(TEXT_ARRAY_OID))
  // performIO is shared by the adapter and its transactions (PgQueryable).
  const queryable = Object.getPrototypeOf(PrismaPg.prototype)
  const performIO = queryable.performIO
  queryable.performIO = async function (query) {
    const result = await performIO.call(this, query)
    if (result.ok) {
      for (const field of result.value.fields ?? []) {
        if (field.dataTypeID === NAME_OID) field.dataTypeID = TEXT_OID
        else if (field.dataTypeID === NAME_ARRAY_OID) field.dataTypeID = TEXT_ARRAY_OID
      }
    }
    return result
  }
}

// Prisma connection-string parameters that are not libpq's: pg would ignore or
// misread them, so they are taken out and mapped onto the pool.
export function poolConfig(url) {
  const parsed = new URL(url)
  const params = parsed.searchParams
  const config = {}
  const schema = params.get('schema')
  const limit = params.get('connection_limit')
  const poolTimeout = params.get('pool_timeout')
  const connectTimeout = params.get('connect_timeout')
  for (const key of ['schema', 'connection_limit', 'pool_timeout', 'connect_timeout',
    'socket_timeout', 'pgbouncer', 'statement_cache_size']) params.delete(key)
  config.connectionString = parsed.toString()
  // The native engine's default pool is num_cpus * 2 + 1.
  config.max = limit ? Number(limit) : 5
  if (poolTimeout) config.connectionTimeoutMillis = Number(poolTimeout) * 1000
  else if (connectTimeout) config.connectionTimeoutMillis = Number(connectTimeout) * 1000
  if (schema) config.options = `-c search_path="${schema.replaceAll('"', '""')}"`
  return { config, schema }
}

export async function startEngine({ modules, datamodelText, url, log }) {
  const { pg, PrismaPg, bindAdapter, QueryEngine } = modules
  const { config, schema } = poolConfig(url)
  const pool = new pg.Pool(config)
  // An idle client losing its connection (database restart) must not kill the
  // process; the next query reconnects or reports the error to the caller.
  pool.on('error', (error) => log('error', `idle database connection failed: ${error.message}`))
  const adapter = bindAdapter(new PrismaPg(pool, schema ? { schema } : undefined))
  const onLog = (line) => {
    try {
      const event = JSON.parse(line)
      if (event.level === 'ERROR' || event.level === 'error') log('error', event.message ?? line)
    } catch {
      log('error', line)
    }
  }
  const engine = new QueryEngine({ datamodel: datamodelText, logLevel: 'error', logQueries: false },
    onLog, adapter)
  await engine.connect(TRACE)
  return {
    engine,
    async close() {
      await engine.disconnect(TRACE)
      await pool.end()
    },
  }
}

// The engine wants a trace context; an empty one means "not traced".
export const TRACE = '{}'
