import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';

/**
 * WAHA 2026.7.2's own OpenAPI document (a copy of ../shared/reference/waha-openapi-2026.7.2.json,
 * WAHA is Apache-2.0), and what the compatibility suite needs from it: its operations, request
 * samples built from its schemas, and validators of answers against its response schemas.
 */
export const WAHA_DOCUMENT_URL = new URL('./fixtures/waha-openapi-2026.7.2.json', import.meta.url);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Schema = { [key: string]: Json };

interface Operation {
  readonly parameters?: readonly { name: string; in: string; required?: boolean; schema?: Schema }[];
  readonly requestBody?: { content: Record<string, { schema: Schema }> };
  readonly responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}

export interface WahaDocument {
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components: { readonly schemas: Record<string, Schema> };
  readonly webhooks: Record<string, { post: { requestBody: { content: Record<string, { schema: Schema }> } } }>;
}

export const waha = JSON.parse(readFileSync(WAHA_DOCUMENT_URL, 'utf8')) as WahaDocument;

/**
 * The one place WAHA's document contradicts WAHA itself: `WebhookConfig.events` items are
 * `{type: object}` (how Nest writes an array of an enum), while WAHA's examples, docs and server
 * take event names, strings. Read as strings, as WAHA's generated SDKs are patched to.
 */
const webhookEvents = waha.components.schemas['WebhookConfig']?.['properties'];
if (typeof webhookEvents === 'object' && webhookEvents !== null && !Array.isArray(webhookEvents)) {
  const events = webhookEvents['events'];
  if (typeof events === 'object' && events !== null && !Array.isArray(events)) events['items'] = { type: 'string' };
}

/** Every operation of WAHA's document as `METHOD /path`. */
export function wahaOperations(): string[] {
  return Object.entries(waha.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));
}

export function operation(key: string): Operation {
  const [method = '', path = ''] = key.split(' ');
  const op = waha.paths[path]?.[method.toLowerCase()];
  if (op === undefined) throw new Error(`WAHA's document has no ${key}`);
  return op;
}

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function resolve(schema: Schema): Schema {
  const ref = schema['$ref'];
  if (typeof ref === 'string') {
    const name = ref.replace('#/components/schemas/', '');
    const target = waha.components.schemas[name];
    if (target === undefined) throw new Error(`WAHA's document has no schema ${name}`);
    return resolve(target);
  }
  const allOf = schema['allOf'];
  if (Array.isArray(allOf)) {
    // WAHA's document wraps a $ref in allOf to add a description or example: merge them.
    const { allOf: _allOf, ...rest } = schema;
    return allOf.filter(isObject).reduce<Schema>((merged, part) => ({ ...resolve(part), ...merged }), rest);
  }
  // Ours writes `T | null` as anyOf: the fields are T's.
  const anyOf = schema['anyOf'] ?? schema['oneOf'];
  if (Array.isArray(anyOf) && schema['properties'] === undefined) {
    const branch = anyOf.filter(isObject).find((part) => part['type'] !== 'null');
    if (branch !== undefined) return resolve(branch);
  }
  return schema;
}

/**
 * WAHA's document as Nest's Swagger module writes it is not plain JSON Schema; what a generated
 * client makes of it, made explicit for ajv:
 * - `nullable: true` (OpenAPI 3.0's) → the type or null;
 * - `required: true` on a property (Nest's way for a nested literal type) → in the parent's `required`;
 * - `type: object` with an enum of strings (Nest's way for an enum-typed field, e.g. `event`) → a string;
 * - `optionalMayBeNull`: an optional property may be null in an answer (the generated models type
 *   an optional field as `T | null`: WAHA itself answers `me: null` before login).
 */
function normalise(schema: Json, optionalMayBeNull: boolean): Json {
  if (Array.isArray(schema)) return schema.map((item) => normalise(item, optionalMayBeNull));
  if (!isObject(schema)) return schema;
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$ref' && typeof value === 'string') out[key] = value.replace('#/', 'waha#/');
    else if (key !== 'nullable' && !(key === 'required' && typeof value === 'boolean')) out[key] = normalise(value, optionalMayBeNull);
  }
  if (out['type'] === 'object' && Array.isArray(out['enum']) && out['enum'].every((item) => typeof item === 'string')) out['type'] = 'string';
  const properties = schema['properties'];
  if (isObject(properties)) {
    const required = new Set(Array.isArray(schema['required']) ? schema['required'].filter((name): name is string => typeof name === 'string') : []);
    for (const [name, property] of Object.entries(properties)) if (isObject(property) && property['required'] === true) required.add(name);
    if (required.size > 0) out['required'] = [...required];
    if (optionalMayBeNull && isObject(out['properties'])) {
      const props = out['properties'];
      for (const name of Object.keys(props)) {
        const property = props[name];
        if (!required.has(name) && property !== undefined) props[name] = { anyOf: [property, { type: 'null' }] };
      }
    }
  }
  return schema['nullable'] === true ? { anyOf: [out, { type: 'null' }] } : out;
}

function validatorFactory(optionalMayBeNull: boolean): (schema: Schema) => ValidateFunction {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: 'waha', components: normalise(waha.components, optionalMayBeNull) });
  return (schema) => ajv.compile(normalise(schema, optionalMayBeNull) as object);
}

const forAnswers = validatorFactory(true);

/** The JSON schema WAHA documents for an operation's answer with this status. */
export function responseSchema(key: string, status: number): Schema | null {
  return operation(key).responses[String(status)]?.content?.['application/json']?.schema ?? null;
}

/** ajv's errors of `value` against WAHA's schema (empty when it conforms), as `path: message` lines. */
export function wahaErrors(schema: Schema, value: unknown): string[] {
  const validate = forAnswers(schema);
  if (validate(value)) return [];
  return (validate.errors ?? []).map((error: ErrorObject) => `${error.instancePath || '/'}: ${error.message ?? error.keyword} ${JSON.stringify(error.params)}`);
}

/** The schema of a webhook event's body in WAHA's document. */
export function webhookSchema(event: string): Schema {
  const schema = waha.webhooks[event]?.post.requestBody.content['application/json']?.schema;
  if (schema === undefined) throw new Error(`WAHA's document has no webhook ${event}`);
  return schema;
}

/**
 * What a client generated from WAHA's document sends:
 * - `full`: every field WAHA defines, at every depth;
 * - `nulls`: every optional field that is not an object null, objects filled the same way, at every depth
 *   (as generated Python/TS models send what they were not given);
 * - `shallowNulls`: the required fields, every optional one null, objects too;
 * - `minimal`: the required fields only.
 * Values come from WAHA's `example`, then `default`, then the first enum value, then the type.
 * `overrides` (by dotted path, `config.webhooks[].url`) replace what the document's examples cannot give: see each use.
 */
export type SampleMode = 'full' | 'nulls' | 'shallowNulls' | 'minimal';

export function sample(schema: Schema, mode: SampleMode, overrides: Readonly<Record<string, unknown>> = {}, path = ''): unknown {
  const s = resolve(schema);
  const properties = s['properties'];
  const example = s['example'];
  const isPrimitive = (value: Json | undefined): boolean => value !== null && value !== undefined && typeof value !== 'object';
  if (isPrimitive(example)) return example;
  if (Array.isArray(example) && example.every(isPrimitive)) return example;
  if (isObject(example) && !isObject(properties)) return example;
  if (isPrimitive(s['default'])) return s['default'];
  const enumValues = s['enum'];
  if (Array.isArray(enumValues) && enumValues.length > 0) return enumValues[0];
  if (s['type'] === 'array') {
    const items = s['items'];
    return isObject(items) ? [sample(items, mode, overrides, `${path}[]`)] : [];
  }
  if (s['type'] === 'string') return 'x';
  if (s['type'] === 'number' || s['type'] === 'integer') return 1;
  if (s['type'] === 'boolean') return true;
  if (!isObject(properties)) return {};
  const required = new Set([
    ...(Array.isArray(s['required']) ? s['required'] : []),
    ...Object.entries(properties)
      .filter(([, property]) => isObject(property) && property['required'] === true)
      .map(([name]) => name),
  ]);
  const out: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    if (!isObject(property)) continue;
    const at = path === '' ? name : `${path}.${name}`;
    if (!required.has(name) && mode === 'minimal') continue;
    const isStructured = isObject(resolve(property)['properties']);
    if (!required.has(name) && (mode === 'shallowNulls' || (mode === 'nulls' && !isStructured))) {
      out[name] = null;
      continue;
    }
    out[name] = at in overrides ? overrides[at] : sample(property, mode, overrides, at);
  }
  return out;
}

/** WAHA's request body schema of an operation. */
export function requestSchema(key: string): Schema {
  const schema = operation(key).requestBody?.content['application/json']?.schema;
  if (schema === undefined) throw new Error(`WAHA documents no JSON body for ${key}`);
  return schema;
}

/** The fields WAHA's request schema defines, as dotted paths (nested objects included). */
export function fieldPaths(schema: Schema, prefix = ''): string[] {
  const properties = resolve(schema)['properties'];
  if (!isObject(properties)) return [];
  return Object.entries(properties).flatMap(([name, property]) => {
    const path = prefix === '' ? name : `${prefix}.${name}`;
    if (!isObject(property)) return [path];
    const resolved = resolve(property);
    const items = resolved['items'];
    const inner = resolved['type'] === 'array' && isObject(items) ? fieldPaths(items, `${path}[]`) : fieldPaths(resolved, path);
    return [path, ...inner];
  });
}
