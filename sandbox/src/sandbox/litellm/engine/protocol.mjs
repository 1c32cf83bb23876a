// The engine's HTTP protocol as prisma-client-py uses it: which request goes to which
// engine call, transaction bookkeeping, and the optional operation trace. The HTTP
// server itself is in main.mjs; the GraphQL translation in translate.mjs.

import { appendFileSync } from 'node:fs'

import { UnsupportedRequest } from './datamodel.mjs'
import { TRACE } from './engine.mjs'

export class HttpError extends Error {
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

function parseJson(text, what) {
  try {
    return JSON.parse(text)
  } catch {
    throw new HttpError(400, `${what} is not JSON`)
  }
}

// LITEMAAS_ENGINE_TRACE names a file that gets one JSON line per translated
// operation: its name and the shape of its arguments (keys only, never values, so
// no key hash or credential lands there). The bridge tests read it to know which
// query shapes LiteLLM used.
export function tracer(path) {
  if (!path) return () => {}
  return (item, context) => {
    const line = { op: item.operation, args: shape(item.json.query.arguments), ...context }
    appendFileSync(path, `${JSON.stringify(line)}\n`)
  }
}

function shape(value) {
  if (Array.isArray(value)) return value.length ? [shape(value[0])] : []
  if (value === null || typeof value !== 'object') return typeof value
  if ('$type' in value) return value.$type
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, shape(value[k])]))
}

// The wasm engine panics (and the process dies) on a transaction id it does not know,
// where the native engine answers P2028. Ids it issued and that were not committed or
// rolled back yet are remembered (bounded); the engine itself reports on expired ones.
const KNOWN_TRANSACTIONS_MAX = 10_000

function transactionNotFound(id) {
  const message = 'Transaction API error: Transaction not found. Transaction ID is invalid, refers to an old closed transaction Prisma doesn\'t have information about anymore, or was obtained before disconnecting.'
  return {
    errors: [{
      error: message,
      user_facing_error: { is_panic: false, message, meta: { error: `Transaction not found: ${id}` }, error_code: 'P2028' },
    }],
  }
}

// Transaction endpoints of the wasm engine return a bare user-facing error
// ({error_code, message, ...}); the native engine's HTTP server, and so
// prisma-client-py, use the {"errors": [{error, user_facing_error}]} envelope.
function transactionAnswer(text) {
  const answer = JSON.parse(text)
  if (answer && typeof answer === 'object' && 'error_code' in answer && 'message' in answer) {
    return { errors: [{ error: answer.meta?.error ?? answer.message, user_facing_error: answer }] }
  }
  return answer
}

export function makeHandler({ engine, translator, trace = () => {} }) {
  const transactions = new Set()

  function remember(id) {
    transactions.add(id)
    if (transactions.size > KNOWN_TRANSACTIONS_MAX) {
      transactions.delete(transactions.values().next().value)
    }
  }

  async function single(body, txId) {
    const item = translator.request(body)
    trace(item, { tx: Boolean(txId) })
    const { json, alias } = item
    const answer = JSON.parse(await engine.query(JSON.stringify(json), TRACE, txId))
    return translator.result(answer, alias)
  }

  async function batch(body, txId) {
    const items = body.batch.map((item) => translator.request(item))
    for (const item of items) trace(item, { tx: Boolean(txId), batch: true })
    const request = { batch: items.map((item) => item.json) }
    // Inside an interactive transaction the batch already runs in it; a batch
    // transaction of its own would nest.
    if (body.transaction && !txId) {
      request.transaction = body.isolationLevel ? { isolationLevel: body.isolationLevel } : {}
    }
    const answer = JSON.parse(await engine.query(JSON.stringify(request), TRACE, txId))
    if (answer.errors || !Array.isArray(answer.batchResult)) return answer
    return { batchResult: answer.batchResult.map((r, i) => translator.result(r, items[i].alias)) }
  }

  return async function route(method, url, text, headers) {
    const txId = headers['x-transaction-id'] || undefined
    if (method === 'GET' && url === '/status') return { status: 'ok' }
    if (method === 'POST' && url === '/') {
      const body = parseJson(text, 'the query')
      if (txId && !transactions.has(txId)) return transactionNotFound(txId)
      return Array.isArray(body.batch) ? batch(body, txId) : single(body, txId)
    }
    if (method === 'POST' && url === '/transaction/start') {
      parseJson(text, 'the transaction options')
      const answer = transactionAnswer(await engine.startTransaction(text, TRACE))
      if (typeof answer.id === 'string') remember(answer.id)
      return answer
    }
    const tx = url.match(/^\/transaction\/([^/]+)\/(commit|rollback)$/)
    if (method === 'POST' && tx) {
      const id = decodeURIComponent(tx[1])
      if (!transactions.has(id)) return transactionNotFound(id)
      // Closed either way after this call; a second commit gets P2028 from us.
      transactions.delete(id)
      const answer = tx[2] === 'commit'
        ? await engine.commitTransaction(id, TRACE)
        : await engine.rollbackTransaction(id, TRACE)
      return transactionAnswer(answer)
    }
    throw new UnsupportedRequest(`no such engine endpoint: ${method} ${url}`)
  }
}
