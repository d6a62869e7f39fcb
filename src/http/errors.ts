import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError, isAppError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { BODY_LIMIT_BYTES } from './server-options.js';

/** The HTTP status of every error code: the only place that decides it. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  VALIDATION_FAILED: 400,
  INVALID_CHAT_ID: 400,
  INVALID_PRESENCE: 400,
  UNAUTHORIZED: 401,
  SESSION_NOT_FOUND: 404,
  NOT_FOUND: 404,
  SANDBOX_NOT_FOUND: 404,
  SESSION_EXISTS: 409,
  SESSION_NOT_STOPPED: 409,
  SESSION_OWNED_ELSEWHERE: 409,
  INVALID_HISTORY_RANGE: 400,
  SANDBOX_CONFLICT: 409,
  HISTORY_DISABLED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  SESSION_NOT_WORKING: 422,
  QR_NOT_AVAILABLE: 422,
  PAIRING_NOT_AVAILABLE: 422,
  PUSH_NAME_MISSING: 422,
  SANDBOX_REJECTED: 422,
  ENGINE_FAILED: 502,
  STORAGE_FULL: 507,
  INTERNAL: 500,
};

/**
 * WAHA-like error body: `statusCode`, `message` and `error` as Nest writes them, plus our stable
 * `code` and the error's details (e.g. the session's `status` on SESSION_NOT_WORKING).
 */
export interface ErrorBody {
  readonly statusCode: number;
  readonly code: ErrorCode;
  readonly error: string;
  readonly message: string;
  readonly [detail: string]: unknown;
}

/** What to do to get a session to WORKING, by its status (said in SESSION_NOT_WORKING), in routes. */
const WORKING_HINT: Readonly<Record<string, string>> = {
  STOPPED: 'start it with POST /api/sessions/{session}/start',
  STARTING: 'it is connecting: retry in a few seconds',
  SCAN_QR_CODE: 'link it first: scan GET /api/{session}/auth/qr or use POST /api/{session}/auth/request-code',
  WORKING: 'retry',
  FAILED: 'deal with the cause, then start it with POST /api/sessions/{session}/start',
};

/**
 * The HTTP side of an error's message: the session layer says what is wrong in its own words, and
 * this adds the route that fixes it (the session layer knows no routes).
 */
function routeHint(error: AppError): string | null {
  const session = error.details?.['session'];
  if (typeof session !== 'string') return null;
  if (error.code === 'SESSION_EXISTS') return `choose another name or update it with PUT /api/sessions/${session}`;
  if (error.code === 'SESSION_NOT_WORKING') {
    const status = error.details?.['status'];
    const hint = typeof status === 'string' ? WORKING_HINT[status] : undefined;
    return hint === undefined ? null : hint.replaceAll('{session}', session);
  }
  return null;
}

export function errorBody(error: AppError): ErrorBody {
  const statusCode = HTTP_STATUS[error.code];
  const hint = routeHint(error);
  const message = hint === null ? error.message : `${error.message}; ${hint}`;
  return { ...error.details, statusCode, code: error.code, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

interface AjvError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly message?: string;
  readonly params: Readonly<Record<string, unknown>>;
}

/** `/config/webhooks/0/url` in `body` → `config.webhooks[0].url`; params and query keep their prefix. */
function fieldName(context: string | undefined, instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').filter((part) => part !== '');
  if (extra !== undefined) parts.push(extra);
  let name = context === 'body' ? '' : context === 'querystring' ? 'query' : (context ?? '');
  for (const part of parts) {
    const decoded = part.replace(/~1/g, '/').replace(/~0/g, '~');
    name = /^\d+$/.test(decoded) ? `${name}[${decoded}]` : name === '' ? decoded : `${name}.${decoded}`;
  }
  return name === '' ? 'body' : name;
}

/** One readable sentence naming the field and saying what to send instead. */
export function validationMessage(context: string | undefined, errors: readonly AjvError[]): { field: string; message: string } {
  const first = errors[0];
  if (first === undefined) return { field: context ?? 'request', message: `${context ?? 'request'} is not valid` };
  const { keyword, params } = first;
  if (keyword === 'required' && typeof params.missingProperty === 'string') {
    const field = fieldName(context, first.instancePath, params.missingProperty);
    return { field, message: `${field} is required` };
  }
  if (keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    const field = fieldName(context, first.instancePath, params.additionalProperty);
    return { field, message: `${field} is not a known field; remove it` };
  }
  // Our keywords (src/http/keywords.ts) say which element of the field is wrong.
  const field = `${fieldName(context, first.instancePath)}${typeof params.at === 'string' ? params.at : ''}`;
  if (keyword === 'enum' && Array.isArray(params.allowedValues)) {
    return { field, message: `${field} must be one of: ${params.allowedValues.map(String).join(', ')}` };
  }
  if (keyword === 'type' && context === 'body' && first.instancePath === '') {
    return { field, message: 'the request body must be a JSON object (Content-Type: application/json)' };
  }
  return { field, message: `${field} ${first.message ?? 'is not valid'}` };
}

/** Fastify's own refusal as one of our errors, its status kept where we have a code for it. */
function fastifyRefusal(statusCode: number, message: string): AppError {
  if (statusCode === 404) return new AppError('NOT_FOUND', message);
  if (statusCode === 413) {
    return new AppError('PAYLOAD_TOO_LARGE', `the request body is larger than ${BODY_LIMIT_BYTES} bytes (${BODY_LIMIT_BYTES / 1_048_576} MiB), the most this server reads; send less`);
  }
  if (statusCode === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', `${message}: send the body as JSON with Content-Type: application/json`);
  return new AppError('VALIDATION_FAILED', message);
}

function isFastifyError(error: unknown): error is FastifyError & { validation?: AjvError[] } {
  return error instanceof Error && 'code' in error && typeof (error as { code: unknown }).code === 'string';
}

/**
 * Maps every error to a WAHA-like body: `AppError`s by their code, schema validation errors to
 * VALIDATION_FAILED naming the field, Fastify's own 4xx (bad JSON, too large) kept as they are,
 * anything else to INTERNAL (logged, never shown).
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request, reply) => {
    if (isAppError(error)) {
      const body = errorBody(error);
      if (body.statusCode >= 500) request.log.error({ err: error }, error.message);
      return reply.code(body.statusCode).send(body);
    }
    if (isFastifyError(error) && error.validation !== undefined) {
      const { field, message } = validationMessage(error.validationContext, error.validation);
      return reply.code(400).send(errorBody(new AppError('VALIDATION_FAILED', message, { field })));
    }
    if (isFastifyError(error) && typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      // Fastify's own refusals (malformed JSON, wrong content type, body too large): the request is
      // not valid, and the status comes from the code like every other error.
      const body = errorBody(fastifyRefusal(error.statusCode, error.message));
      return reply.code(body.statusCode).send(body);
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send(errorBody(new AppError('INTERNAL', 'internal server error; see the server log')));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    return reply.code(404).send(errorBody(new AppError('NOT_FOUND', `no route ${request.method} ${path}; see the API documentation at /`)));
  });
}
