// What the translator needs to know about the Prisma schema: for every model, which
// fields are relations (so nested arguments are read against the related model) and
// which are Json (the JSON protocol wants those inputs tagged). A full Prisma schema
// parser is not needed: prisma-client-py generated its client from the same file, so
// the file is known to be valid, and only `model` blocks are read.

const SCALARS = new Set([
  'String', 'Boolean', 'Int', 'BigInt', 'Float', 'Decimal', 'DateTime', 'Json', 'Bytes',
])

export class UnsupportedRequest extends Error {}

export function parseDatamodel(text) {
  const models = new Map()
  const enums = new Set()
  let current = null
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\/\/.*$/, '').trim()
    if (!line) continue
    const open = line.match(/^(model|enum|type|view)\s+(\w+)\s*\{$/)
    if (open) {
      if (open[1] === 'type') {
        // Composite types only exist on MongoDB; refuse rather than mistranslate.
        throw new UnsupportedRequest(`composite type ${open[2]} in the schema`)
      }
      if (open[1] === 'enum') {
        enums.add(open[2])
        current = null
      } else {
        current = { name: open[2], fields: new Map() }
        models.set(open[2], current)
      }
      continue
    }
    if (line === '}') {
      current = null
      continue
    }
    if (!current || line.startsWith('@@')) continue
    const field = line.match(/^(\w+)\s+(\w+)(\[\])?(\?)?/)
    if (field) {
      current.fields.set(field[1], { name: field[1], type: field[2], list: Boolean(field[3]) })
    }
  }
  for (const model of models.values()) {
    for (const field of model.fields.values()) {
      if (models.has(field.type)) field.kind = 'relation'
      else if (SCALARS.has(field.type) || enums.has(field.type)) field.kind = 'scalar'
      else throw new UnsupportedRequest(`field ${model.name}.${field.name} of unknown type ${field.type}`)
    }
  }
  return { models, enums }
}

// The datasource's URL is `env("NAME")` or a literal; prisma-client-py may also
// override it through OVERWRITE_DATASOURCES, exactly as the native engine allows.
export function datasourceUrl(text, env) {
  const overrides = env.OVERWRITE_DATASOURCES
  if (overrides) {
    const list = JSON.parse(overrides)
    if (list.length && list[0].url) return list[0].url
  }
  const block = text.match(/datasource\s+\w+\s*\{([^}]*)\}/)
  if (!block) throw new Error('the schema has no datasource block')
  const fromEnv = block[1].match(/url\s*=\s*env\(\s*"([^"]+)"\s*\)/)
  if (fromEnv) {
    const value = env[fromEnv[1]]
    if (!value) throw new Error(`environment variable ${fromEnv[1]} (the datasource URL) is not set`)
    return value
  }
  const literal = block[1].match(/url\s*=\s*"([^"]+)"/)
  if (literal) return literal[1]
  throw new Error('cannot read the datasource URL from the schema')
}
