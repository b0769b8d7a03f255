#!/usr/bin/env node
// Structural checks of docs/openapi.json (no server needed).
//
//   node scripts/check-openapi.mjs [path/to/openapi.json]
//
// Exit status 0 when every check passes, 1 otherwise (each problem printed).
// The server embeds the file at build time and serves it as is, so besides
// OpenAPI structure this checks that the text is strict JSON with no
// repeated member names and only small integer numbers.
//
// Also imported by tests/integration/openapi.test.mjs (checkOpenApi, ROUTES,
// validateSchema, responseSchema, ...).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_PATH = path.join(here, '..', 'docs', 'openapi.json');

// Every route the server has, with exactly these methods.
export const ROUTES = {
  '/health': ['get'],
  '/api/execute': ['post'],
  '/api/models/{model}/create-batch': ['post'],
  '/api/models/{model}/read-batch': ['post'],
  '/api/models/{model}/read-latest': ['post'],
  '/api/models/{model}/upsert': ['post'],
  '/api/models/{model}/delete-batch': ['post'],
  '/bootstrap/apply-schema': ['post'],
  '/bootstrap/clear-data': ['post'],
  '/bootstrap/migrate': ['post'],
  '/bootstrap/repair-roots': ['post'],
  '/bootstrap/schema': ['get'],
  '/api/identity': ['get'],
  '/api/roots/latest': ['get'],
  '/api/roots/{seq}': ['get'],
  '/api/roots/{seq}/transition': ['get'],
  '/api/roots/proof': ['get'],
  '/checkpoint': ['get'],
  '/metrics': ['get'],
  '/api-docs/openapi.json': ['get'],
  '/swagger-ui': ['get'],
};

export const REQUIRED_SCHEMAS = [
  'ApiRequest', 'ApiResponse', 'ErrorResponse', 'Action', 'CreateBatchRequest', 'ReadBatchRequest',
  'ReadLatestRequest', 'OrderBySpec', 'OrderDirection', 'UpsertBatchRequest', 'DeleteBatchRequest',
  'BootstrapRequest', 'ClearDataRequest', 'MigrateRequest', 'RepairRootsRequest', 'TableSpec',
  'ColumnSpec', 'ColumnType', 'PrimaryKeyKind', 'CurrentSchemaResponse', 'DbTableSchema',
  'DbColumnSchema', 'FieldError', 'WriteResult', 'ReadResult', 'HealthData', 'IntegrityViolation',
  'Identity', 'Header', 'RootsLatest', 'RootsEntry',
];

export const ERROR_CODES = [
  'INVALID_JSON', 'MODEL_NOT_REGISTERED', 'VALIDATION_FAILED', 'INVALID_EXPECTED_ROOT',
  'ROOT_CHANGED', 'EMPTY_RECORDS', 'UPSERT_NO_FIELDS', 'DUPLICATE_ID', 'NOT_FOUND',
  'INTEGRITY_VIOLATION', 'CONSTRAINT_VIOLATION', 'INVALID_VALUE', 'INVALID_LIMIT',
  'INVALID_WHERE', 'INVALID_ORDER_BY', 'TOO_MANY_IDS', 'CONFIRM_REQUIRED', 'INVALID_SCHEMA',
  'TABLE_NOT_MANAGED', 'NO_MODELS', 'MIGRATION_FAILED', 'MIGRATION_CHANGED', 'INVALID_PAYLOAD',
  'UNSUPPORTED_MEDIA_TYPE', 'PAYLOAD_TOO_LARGE', 'ROUTE_NOT_FOUND', 'METHOD_NOT_ALLOWED',
  'WRITES_UNAVAILABLE', 'DATABASE_ERROR', 'DB_UNAVAILABLE', 'HISTORY_BROKEN', 'ROLLBACK_DETECTED',
  'INVALID_SEQ', 'INVALID_RANGE', 'NO_TRANSITION', 'BAD_REQUEST', 'INTERNAL', 'UNAUTHORIZED', 'FORBIDDEN',
  'COMMIT_UNKNOWN',
];

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const ALLOWED_STATUS = new Set(['200', '400', '401', '403', '404', '405', '409', '413', '415', '422', '500', '503']);

// A strict JSON scanner over the raw text: reports repeated member names in
// one object and any number that is not a safe integer literal (JSON.parse
// accepts both silently). Throws on a syntax error.
export function scanStrictJson(text) {
  const problems = [];
  let i = 0;
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
  const fail = (m) => { throw new Error(`JSON syntax at offset ${i}: ${m}`); };
  const str = () => {
    const start = i;
    if (text[i] !== '"') fail('expected string');
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail('control character in string');
      i += text[i] === '\\' ? 2 : 1;
    }
    if (text[i] !== '"') fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const value = (where) => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Set();
      ws();
      if (text[i] === '}') { i++; return; }
      for (;;) {
        ws();
        const k = str();
        if (seen.has(k)) problems.push(`repeated member name "${k}" in ${where || '/'}`);
        seen.add(k);
        ws();
        if (text[i] !== ':') fail('expected :');
        i++;
        value(`${where}/${k}`);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return; }
        fail('expected , or }');
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') { i++; return; }
      for (let n = 0; ; n++) {
        value(`${where}/${n}`);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return; }
        fail('expected , or ]');
      }
    } else if (c === '"') {
      str();
    } else if (text.startsWith('true', i)) i += 4;
    else if (text.startsWith('false', i)) i += 5;
    else if (text.startsWith('null', i)) i += 4;
    else {
      const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 64));
      if (!m) fail('unexpected character');
      const lit = m[0];
      i += lit.length;
      if (!/^-?(0|[1-9]\d*)$/.test(lit) || !Number.isSafeInteger(Number(lit)) || lit === '-0') {
        problems.push(`number ${lit} at ${where} is not a small integer`);
      }
    }
  };
  value('');
  ws();
  if (i !== text.length) fail('trailing characters');
  return problems;
}

// Resolves a local "#/a/b" reference.
export function resolveRef(doc, ref) {
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return undefined;
  let cur = doc;
  for (const raw of ref.slice(2).split('/')) {
    const k = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object' || !(k in cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

// A tiny JSON Schema (OpenAPI 3.0 dialect) validator: $ref, allOf, anyOf,
// oneOf, type (integer included), nullable, enum, required, properties,
// additionalProperties, items, minItems/maxItems, minimum/maximum, pattern.
// Returns a list of "where: what" strings (empty when `value` conforms).
export function validateSchema(doc, schema, value, where = '$', depth = 0) {
  const errs = [];
  if (depth > 64) return [`${where}: schema nesting too deep`];
  if (schema === undefined || schema === true) return errs;
  if (schema.$ref) {
    const target = resolveRef(doc, schema.$ref);
    if (target === undefined) return [`${where}: unresolved ${schema.$ref}`];
    return validateSchema(doc, target, value, where, depth + 1);
  }
  if (value === null) {
    if (schema.nullable === true) return errs;
    // A schema with no type and no composition accepts null ("any value").
    if (schema.type === undefined && !schema.allOf && !schema.anyOf && !schema.oneOf && !schema.enum) return errs;
  }
  if (schema.allOf) {
    for (const s of schema.allOf) {
      // `nullable` next to allOf (the 3.0 way to make a $ref nullable).
      if (value === null && schema.nullable === true) break;
      errs.push(...validateSchema(doc, s, value, where, depth + 1));
    }
  }
  if (schema.anyOf) {
    const results = schema.anyOf.map((s) => validateSchema(doc, s, value, where, depth + 1));
    if (!results.some((r) => r.length === 0)) {
      errs.push(`${where}: matches none of anyOf (${results.map((r) => r[0]).join(' | ')})`);
    }
  }
  if (schema.oneOf) {
    const results = schema.oneOf.map((s) => validateSchema(doc, s, value, where, depth + 1));
    const n = results.filter((r) => r.length === 0).length;
    if (n !== 1) errs.push(`${where}: matches ${n} of oneOf, want exactly 1`);
  }
  const t = schema.type;
  const jsType = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  if (t !== undefined) {
    const ok =
      (t === 'integer' && typeof value === 'number' && Number.isInteger(value)) ||
      (t === 'number' && typeof value === 'number') ||
      (t === 'string' && typeof value === 'string') ||
      (t === 'boolean' && typeof value === 'boolean') ||
      (t === 'array' && jsType === 'array') ||
      (t === 'object' && jsType === 'object');
    if (!ok) return [...errs, `${where}: is ${jsType} ${JSON.stringify(value)?.slice(0, 80)}, want ${t}${schema.nullable ? ' or null' : ''}`];
  }
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errs.push(`${where}: ${JSON.stringify(value)?.slice(0, 80)} not in enum ${JSON.stringify(schema.enum).slice(0, 200)}`);
  }
  if (typeof value === 'string' && schema.pattern && !new RegExp(schema.pattern).test(value)) {
    errs.push(`${where}: "${value.slice(0, 80)}" does not match ${schema.pattern}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errs.push(`${where}: ${value} < minimum ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errs.push(`${where}: ${value} > maximum ${schema.maximum}`);
  }
  if (jsType === 'array') {
    if (schema.minItems !== undefined && value.length < schema.minItems) errs.push(`${where}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errs.push(`${where}: more than ${schema.maxItems} items`);
    if (schema.items) value.forEach((x, n) => errs.push(...validateSchema(doc, schema.items, x, `${where}[${n}]`, depth + 1)));
  }
  if (jsType === 'object') {
    for (const r of schema.required || []) if (!(r in value)) errs.push(`${where}: missing required "${r}"`);
    const props = schema.properties || {};
    for (const [k, v] of Object.entries(value)) {
      if (k in props) errs.push(...validateSchema(doc, props[k], v, `${where}.${k}`, depth + 1));
      else if (schema.additionalProperties === false) errs.push(`${where}: unexpected property "${k}"`);
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        errs.push(...validateSchema(doc, schema.additionalProperties, v, `${where}.${k}`, depth + 1));
      }
    }
  }
  return errs;
}

// The schema documented for `status` of `method path` (application/json),
// or undefined.
export function responseSchema(doc, route, method, status) {
  let resp = doc.paths?.[route]?.[method.toLowerCase()]?.responses?.[String(status)];
  if (resp?.$ref) resp = resolveRef(doc, resp.$ref);
  return resp?.content?.['application/json']?.schema;
}

// Returns a list of problems (empty when the document passes).
export function checkOpenApi(doc, text) {
  const p = [];
  const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

  if (text !== undefined) {
    try { p.push(...scanStrictJson(text)); } catch (e) { p.push(e.message); return p; }
  }
  if (!isObj(doc)) return ['document is not an object'];
  if (typeof doc.openapi !== 'string' || !/^3\.0\.\d+$/.test(doc.openapi)) p.push(`openapi is ${JSON.stringify(doc.openapi)}, want 3.0.x`);
  if (!isObj(doc.info) || typeof doc.info.title !== 'string' || !doc.info.title) p.push('info.title missing');
  if (!isObj(doc.info) || doc.info.version !== '0.1.0') p.push('info.version is not "0.1.0"');
  if (!Array.isArray(doc.servers) || doc.servers.length !== 1 || doc.servers[0]?.url !== '/') p.push('servers is not [{"url": "/"}]');

  // Every $ref resolves; collect them while walking.
  const walk = (v, where) => {
    if (Array.isArray(v)) { v.forEach((x, n) => walk(x, `${where}/${n}`)); return; }
    if (!isObj(v)) return;
    if ('$ref' in v) {
      if (resolveRef(doc, v.$ref) === undefined) p.push(`unresolved $ref ${v.$ref} at ${where}`);
      if (Object.keys(v).length !== 1) p.push(`$ref with siblings (ignored by OpenAPI 3.0) at ${where}`);
    }
    for (const [k, x] of Object.entries(v)) walk(x, `${where}/${k}`);
  };
  walk(doc, '');

  // Paths and methods: exactly the route table.
  const paths = isObj(doc.paths) ? doc.paths : {};
  if (!isObj(doc.paths)) p.push('paths missing');
  for (const route of Object.keys(ROUTES)) if (!(route in paths)) p.push(`path ${route} missing`);
  for (const route of Object.keys(paths)) if (!(route in ROUTES)) p.push(`undocumented-by-brief path ${route} present`);

  const opIds = new Set();
  for (const [route, item] of Object.entries(paths)) {
    if (!isObj(item)) { p.push(`path ${route} is not an object`); continue; }
    const methods = HTTP_METHODS.filter((m) => m in item);
    const want = ROUTES[route] || [];
    if (JSON.stringify(methods.slice().sort()) !== JSON.stringify(want.slice().sort())) {
      p.push(`path ${route} has methods [${methods}], want [${want}]`);
    }
    const pathParams = [...route.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const m of methods) {
      const op = item[m];
      const at = `${m.toUpperCase()} ${route}`;
      if (!isObj(op)) { p.push(`${at} is not an object`); continue; }
      if (typeof op.operationId !== 'string' || !op.operationId) p.push(`${at}: no operationId`);
      else if (opIds.has(op.operationId)) p.push(`${at}: duplicate operationId ${op.operationId}`);
      else opIds.add(op.operationId);
      if (typeof op.summary !== 'string' || !op.summary) p.push(`${at}: no summary`);
      if (typeof op.description !== 'string' || !op.description) p.push(`${at}: no description`);
      // Path parameters declared (on the path item or the operation).
      const params = [...(item.parameters || []), ...(op.parameters || [])].map((x) => (x.$ref ? resolveRef(doc, x.$ref) : x));
      for (const name of pathParams) {
        const prm = params.find((x) => x && x.in === 'path' && x.name === name);
        if (!prm) p.push(`${at}: path parameter {${name}} not declared`);
        else if (prm.required !== true) p.push(`${at}: path parameter {${name}} not required`);
      }
      if (m === 'post') {
        const rb = op.requestBody;
        const media = rb?.content?.['application/json'];
        if (!media?.schema) p.push(`${at}: no application/json requestBody schema`);
        if (media && media.example === undefined && media.examples === undefined) p.push(`${at}: requestBody has no example`);
      }
      if (!isObj(op.responses) || Object.keys(op.responses).length === 0) {
        p.push(`${at}: no responses`);
        continue;
      }
      if (!('200' in op.responses)) p.push(`${at}: no 200 response`);
      for (const [status, resp0] of Object.entries(op.responses)) {
        const resp = resp0?.$ref ? resolveRef(doc, resp0.$ref) : resp0;
        if (!ALLOWED_STATUS.has(status)) p.push(`${at}: unexpected status ${status}`);
        if (!isObj(resp) || typeof resp.description !== 'string' || !resp.description) {
          p.push(`${at} ${status}: no description`);
          continue;
        }
        const content = resp.content;
        if (!isObj(content) || Object.keys(content).length === 0) { p.push(`${at} ${status}: no content`); continue; }
        for (const [mt, media] of Object.entries(content)) {
          if (!media?.schema) p.push(`${at} ${status} ${mt}: no schema`);
        }
        if (status !== '200' && !content['application/json']) p.push(`${at} ${status}: error without application/json`);
      }
    }
  }

  // Components.
  const schemas = doc.components?.schemas;
  if (!isObj(schemas)) p.push('components.schemas missing');
  else for (const n of REQUIRED_SCHEMAS) if (!(n in schemas)) p.push(`components.schemas.${n} missing`);

  // Required shapes named in the brief.
  const props = (n) => {
    const s = schemas?.[n];
    return s?.properties ? Object.keys(s.properties) : [];
  };
  const need = {
    ApiResponse: ['success', 'data', 'error', 'code'],
    WriteResult: ['ids', 'records', 'verified', 'meta'],
    ReadResult: ['ids', 'records', 'verified', 'missing', 'meta'],
    Identity: ['public_key', 'address', 'anchor'],
    Header: ['seq', 'smt_root', 'prev', 'history_root', 'time_ms', 'schema_hash', 'header_hash', 'sig'],
    RootsLatest: ['anchor', 'anchored', 'backlog', 'header', 'public_key'],
    RootsEntry: ['header', 'kind'],
  };
  for (const [n, fields] of Object.entries(need)) {
    for (const f of fields) if (!props(n).includes(f)) p.push(`components.schemas.${n} lacks property ${f}`);
  }
  const wmeta = schemas?.WriteResult?.properties?.meta;
  const wm = wmeta?.$ref ? resolveRef(doc, wmeta.$ref) : wmeta;
  for (const f of ['proposed_root', 'committed', 'seq']) if (!wm?.properties?.[f]) p.push(`WriteResult.meta lacks ${f}`);
  const rmeta = schemas?.ReadResult?.properties?.meta;
  const rm = rmeta?.$ref ? resolveRef(doc, rmeta.$ref) : rmeta;
  if (!rm?.properties?.limit) p.push('ReadResult.meta lacks limit');

  // Every error code is documented somewhere in an operation description and
  // is in ErrorCode's enum.
  const opText = JSON.stringify(paths) + JSON.stringify(doc.info?.description || '');
  const enumCodes = schemas?.ErrorCode?.enum || [];
  for (const c of ERROR_CODES) {
    if (!opText.includes(c)) p.push(`error code ${c} not mentioned in any description`);
    if (!enumCodes.includes(c)) p.push(`error code ${c} not in components.schemas.ErrorCode.enum`);
  }
  for (const c of enumCodes) if (!ERROR_CODES.includes(c)) p.push(`ErrorCode.enum has unknown code ${c}`);

  // Schema sanity: `required` names exist in `properties`; known types only.
  const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object']);
  const walkSchemas = (s, where) => {
    if (!isObj(s)) return;
    if (s.type !== undefined && !TYPES.has(s.type)) p.push(`${where}: unknown type ${s.type}`);
    if (s.type === 'array' && !s.items) p.push(`${where}: array without items`);
    if (Array.isArray(s.required) && isObj(s.properties)) {
      for (const r of s.required) if (!(r in s.properties)) p.push(`${where}: required ${r} not in properties`);
    }
    for (const [k, v] of Object.entries(s)) {
      if (k === 'example' || k === 'examples' || k === 'enum' || k === 'default') continue;
      if (Array.isArray(v)) v.forEach((x, n) => walkSchemas(x, `${where}/${k}/${n}`));
      else walkSchemas(v, `${where}/${k}`);
    }
  };
  // securitySchemes are not schemas (their `type` is `http`, `apiKey`, ...).
  for (const [k, v] of Object.entries(doc.components || {})) {
    if (k !== 'securitySchemes') walkSchemas(v, `#/components/${k}`);
  }
  const bearer = doc.components?.securitySchemes?.bearerAuth;
  if (bearer?.type !== 'http' || bearer?.scheme !== 'bearer') p.push('components.securitySchemes.bearerAuth must be http bearer');
  walkSchemas(doc.paths, '#/paths');

  // Every example conforms to the schema it illustrates.
  const exampleAt = (schema, example, where) => {
    for (const e of validateSchema(doc, schema, example, 'example')) p.push(`${where}: ${e}`);
  };
  for (const [n, s] of Object.entries(schemas || {})) {
    if (s && s.example !== undefined) exampleAt(s, s.example, `#/components/schemas/${n}`);
  }
  const mediaExamples = (content, where) => {
    for (const [mt, media] of Object.entries(content || {})) {
      if (media?.schema && media.example !== undefined) exampleAt(media.schema, media.example, `${where} ${mt}`);
    }
  };
  for (const [route, item] of Object.entries(paths)) {
    for (const m of HTTP_METHODS) {
      const op = item?.[m];
      if (!isObj(op)) continue;
      mediaExamples(op.requestBody?.content, `${m.toUpperCase()} ${route} requestBody`);
      for (const [status, resp] of Object.entries(op.responses || {})) {
        mediaExamples((resp?.$ref ? resolveRef(doc, resp.$ref) : resp)?.content, `${m.toUpperCase()} ${route} ${status}`);
      }
    }
  }
  for (const [n, r] of Object.entries(doc.components?.responses || {})) mediaExamples(r?.content, `#/components/responses/${n}`);
  return p;
}

// Run as a script.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] || DEFAULT_PATH;
  let text;
  let doc;
  try {
    text = readFileSync(file, 'utf8');
    doc = JSON.parse(text);
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    process.exit(1);
  }
  const problems = checkOpenApi(doc, text);
  for (const x of problems) console.error(`${file}: ${x}`);
  if (problems.length) process.exit(1);
  const nops = Object.values(doc.paths).reduce((n, it) => n + Object.keys(it).filter((k) => HTTP_METHODS.includes(k)).length, 0);
  console.log(`${file}: OK (${Object.keys(doc.paths).length} paths, ${nops} operations, ${Object.keys(doc.components.schemas).length} schemas)`);
}
