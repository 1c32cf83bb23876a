// prisma-client-py speaks the engine's old GraphQL protocol; the WebAssembly engine
// only speaks the JSON protocol. This module translates one way for requests and the
// other way for results. Anything it does not positively recognise is refused with the
// operation named (UnsupportedRequest), so a LiteLLM upgrade that needs a new query
// shape fails a test instead of quietly doing the wrong thing.

import { UnsupportedRequest } from './datamodel.mjs'

// GraphQL operation prefixes prisma-client-py emits (prisma/_builder.py
// METHOD_FORMAT_MAPPING), longest first so `findUniqueXOrThrow` is not read as
// `findUnique` of a model called `XOrThrow`.
const MODEL_ACTIONS = [
  'findUnique', 'findFirst', 'findMany', 'createOne', 'createMany', 'updateOne',
  'updateMany', 'deleteOne', 'deleteMany', 'upsertOne', 'aggregate', 'groupBy',
]
const RAW_ACTIONS = new Set(['queryRaw', 'executeRaw'])

// Keys that may sit beside a Json value inside a Json filter and are not Json
// themselves: they stay plain strings / string lists.
const JSON_FILTER_PLAIN_KEYS = new Set([
  'path', 'string_contains', 'string_starts_with', 'string_ends_with', 'mode',
])

export class Translator {
  constructor({ datamodel, parse, Kind }) {
    this.models = datamodel.models
    this.parse = parse
    this.Kind = Kind
  }

  // One GraphQL request ({query, variables}) -> {json, alias, operation}.
  request(body) {
    if (body.variables && Object.keys(body.variables).length) {
      throw new UnsupportedRequest('GraphQL variables are not supported')
    }
    let document
    try {
      document = this.parse(body.query)
    } catch (error) {
      throw new UnsupportedRequest(`unparsable GraphQL request: ${error.message}`)
    }
    if (document.definitions.length !== 1) {
      throw new UnsupportedRequest(`expected one GraphQL operation, got ${document.definitions.length}`)
    }
    const operation = document.definitions[0]
    const fields = operation.selectionSet?.selections ?? []
    if (operation.kind !== this.Kind.OPERATION_DEFINITION || fields.length !== 1) {
      throw new UnsupportedRequest('expected one operation with exactly one root field')
    }
    const root = fields[0]
    const name = root.name.value
    if (root.directives?.length) throw new UnsupportedRequest(`${name}: directives are not supported`)
    const { action, model } = this.resolveOperation(name)
    const args = this.arguments(root.arguments, name)
    const query = { arguments: this.convertInput(args, model, name) }
    if (RAW_ACTIONS.has(action)) {
      // The JSON protocol takes raw parameters as the same JSON-encoded string the
      // GraphQL protocol did; the result is untyped-by-model, so no selection.
      query.selection = {}
    } else {
      if (!root.selectionSet) throw new UnsupportedRequest(`${name}: a model query without a selection`)
      query.selection = this.selection(root.selectionSet, model, name)
    }
    const json = { action, query }
    if (model) json.modelName = model.name
    return { json, alias: root.alias?.value ?? name, operation: name }
  }

  resolveOperation(name) {
    if (RAW_ACTIONS.has(name)) return { action: name, model: null }
    for (const prefix of MODEL_ACTIONS) {
      if (!name.startsWith(prefix)) continue
      let rest = name.slice(prefix.length)
      let action = prefix
      if ((prefix === 'findUnique' || prefix === 'findFirst') && rest.endsWith('OrThrow')) {
        rest = rest.slice(0, -'OrThrow'.length)
        action = `${prefix}OrThrow`
      }
      const model = this.models.get(rest)
      if (model) return { action, model }
    }
    throw new UnsupportedRequest(`unknown operation ${name}`)
  }

  arguments(nodes, where) {
    const out = {}
    for (const node of nodes ?? []) out[node.name.value] = this.value(node.value, where)
    return out
  }

  value(node, where) {
    const K = this.Kind
    switch (node.kind) {
      case K.STRING: return node.value
      case K.BOOLEAN: return node.value
      case K.NULL: return null
      case K.ENUM: return node.value
      case K.FLOAT: return Number(node.value)
      case K.INT: {
        // BigInt columns can exceed 2^53; keep such integers exact.
        const n = Number(node.value)
        return Number.isSafeInteger(n) ? n : { $type: 'BigInt', value: node.value }
      }
      case K.LIST: return node.values.map((v) => this.value(v, where))
      case K.OBJECT: {
        const out = {}
        for (const f of node.fields) out[f.name.value] = this.value(f.value, where)
        return out
      }
      default:
        throw new UnsupportedRequest(`${where}: GraphQL value of kind ${node.kind} is not supported`)
    }
  }

  // Walk an argument tree with the model it applies to: relation fields switch the
  // model, Json fields get their values tagged, everything else is carried through.
  convertInput(value, model, where) {
    if (Array.isArray(value)) return value.map((v) => this.convertInput(v, model, where))
    if (!isPlainObject(value) || '$type' in value) return value
    const out = {}
    for (const [key, item] of Object.entries(value)) {
      const field = model?.fields.get(key)
      if (field?.kind === 'relation') {
        out[key] = this.convertInput(item, this.models.get(field.type), where)
      } else if (field?.type === 'Json') {
        out[key] = this.jsonInput(item, `${where}: ${model.name}.${key}`)
      } else {
        out[key] = this.convertInput(item, model, where)
      }
    }
    return out
  }

  // prisma-client-py sends Json values as strings holding JSON text (fields.Json is
  // serialised with json.dumps). The JSON protocol would store such a string as a
  // JSON *string*; tagging it keeps the GraphQL protocol's meaning.
  jsonInput(value, where) {
    if (value === null) return null
    if (typeof value === 'string') return { $type: 'Json', value }
    if (Array.isArray(value)) return value.map((v) => this.jsonInput(v, where))
    if (isPlainObject(value)) {
      // A filter or an update operation on a Json field ({equals: ..., path: [...]}).
      const out = {}
      for (const [key, item] of Object.entries(value)) {
        out[key] = JSON_FILTER_PLAIN_KEYS.has(key) ? item : this.jsonInput(item, where)
      }
      return out
    }
    throw new UnsupportedRequest(`${where}: a Json value of type ${typeof value}`)
  }

  // GraphQL selection set -> JSON protocol selection. Scalars become `true`;
  // relations and aggregates (`_count { _all }`) become nested selections.
  selection(set, model, where) {
    const out = {}
    for (const node of set.selections) {
      if (node.kind !== this.Kind.FIELD) {
        throw new UnsupportedRequest(`${where}: fragments are not supported`)
      }
      const name = node.name.value
      if (node.alias) throw new UnsupportedRequest(`${where}: nested alias ${node.alias.value}`)
      if (node.directives?.length) throw new UnsupportedRequest(`${where}: directives on ${name}`)
      if (!node.selectionSet) {
        if (node.arguments?.length) throw new UnsupportedRequest(`${where}: arguments on scalar ${name}`)
        out[name] = true
        continue
      }
      const field = model?.fields.get(name)
      const target = field?.kind === 'relation' ? this.models.get(field.type) : model
      const entry = { selection: this.selection(node.selectionSet, target, where) }
      if (node.arguments?.length) {
        entry.arguments = this.convertInput(this.arguments(node.arguments, where), target, where)
      }
      out[name] = entry
    }
    return out
  }

  // The engine names a result after its JSON-protocol operation (`findUniqueX`);
  // prisma-client-py reads it under the GraphQL alias (`result`).
  result(engineResponse, alias) {
    if (engineResponse.errors) return engineResponse
    const data = engineResponse.data
    if (!data || typeof data !== 'object') return engineResponse
    const keys = Object.keys(data)
    if (keys.length !== 1) {
      throw new Error(`engine answered with ${keys.length} result keys: ${keys.join(', ')}`)
    }
    return { data: { [alias]: untag(data[keys[0]]) } }
  }
}

// The JSON protocol tags non-JSON scalars ({"$type": "DateTime", "value": "..."});
// the GraphQL protocol returned the bare value, which is what the Python models parse.
const OUTPUT_TAGS = new Set(['DateTime', 'BigInt', 'Decimal', 'Bytes', 'Json'])

export function untag(value) {
  if (Array.isArray(value)) return value.map(untag)
  if (!isPlainObject(value)) return value
  const keys = Object.keys(value)
  if (keys.length === 2 && OUTPUT_TAGS.has(value.$type) && 'value' in value) return value.value
  const out = {}
  for (const key of keys) out[key] = untag(value[key])
  return out
}

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
