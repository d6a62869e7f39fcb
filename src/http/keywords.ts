import type { Ajv } from '@fastify/ajv-compiler';
import { customHeadersProblem } from '../presence/webhook-headers.js';
import type { CustomHeader } from '../presence/webhook-headers.js';

/**
 * Schema keywords of ours, checked by the request validator (`src/http/server-options.ts`):
 * - `x-free-form: true` on a field that takes any JSON (WAHA's `webjs`, `gows`, `apps`): bounded in
 *   depth and size, since a value nested thousands of levels deep overflows the stack of whatever
 *   walks it recursively later (storing, serialising the answer) and answers 500.
 * - `x-custom-headers: true` on a webhook's `customHeaders`: each header one a delivery can send.
 * Their errors carry `params.at`, appended to the field name (`customHeaders[1]`).
 */
/** Ajv's function keyword: returns validity, and reports why on its own `errors`. */
interface KeywordFunction {
  (schema: unknown, data: unknown): boolean;
  errors?: { keyword: string; message: string; params: Record<string, unknown> }[];
}

export const FREE_FORM_MAX_DEPTH = 32;
export const FREE_FORM_MAX_CHARS = 16_384;

export const FREE_FORM_LIMITS = `at most ${FREE_FORM_MAX_DEPTH} levels of nesting and ${FREE_FORM_MAX_CHARS} characters as JSON`;

/** Nesting depth of a JSON value (a scalar is 0), walked without recursion; stops once past `limit`. */
export function depthOf(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [item, depth] = next;
    if (typeof item !== 'object' || item === null) continue;
    const level = depth + 1;
    if (level > deepest) deepest = level;
    if (deepest > limit) return deepest;
    for (const child of Object.values(item)) stack.push([child, level]);
  }
  return deepest;
}

function freeFormProblem(value: unknown): string | null {
  if (depthOf(value, FREE_FORM_MAX_DEPTH) > FREE_FORM_MAX_DEPTH) return `is nested more than ${FREE_FORM_MAX_DEPTH} levels deep; send ${FREE_FORM_LIMITS}`;
  // Safe now that the depth is bounded.
  if (JSON.stringify(value).length > FREE_FORM_MAX_CHARS) return `is longer than ${FREE_FORM_MAX_CHARS} characters as JSON; send ${FREE_FORM_LIMITS}`;
  return null;
}

function isHeaderList(value: unknown): value is CustomHeader[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'object' && item !== null && typeof (item as CustomHeader).name === 'string' && typeof (item as CustomHeader).value === 'string');
}

const validateFreeForm: KeywordFunction = (_schema: unknown, data: unknown) => {
  const problem = freeFormProblem(data);
  if (problem === null) return true;
  validateFreeForm.errors = [{ keyword: 'x-free-form', message: problem, params: {} }];
  return false;
};

const validateCustomHeaders: KeywordFunction = (_schema: unknown, data: unknown) => {
  // Other shapes are the type keywords' business (they report them).
  if (!isHeaderList(data)) return true;
  const found = customHeadersProblem(data);
  if (found === null) return true;
  validateCustomHeaders.errors = [{ keyword: 'x-custom-headers', message: found.problem, params: { at: `[${found.index}]` } }];
  return false;
};

/** An Ajv plugin adding both keywords. */
export function addKeywords(ajv: Ajv): Ajv {
  ajv.addKeyword({ keyword: 'x-free-form', schemaType: 'boolean', validate: validateFreeForm, errors: true });
  ajv.addKeyword({ keyword: 'x-custom-headers', schemaType: 'boolean', validate: validateCustomHeaders, errors: true });
  return ajv;
}
