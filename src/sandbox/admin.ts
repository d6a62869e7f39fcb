import type { FastifyError, FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { SandboxNetwork } from './network.js';
import { CONTACT_PRESENCES, SandboxError } from './network.js';
import { LAST_SEEN_PRIVACIES } from './state.js';
import { AppError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { errorBody, validationMessage } from '../http/errors.js';
import type { ErrorBody } from '../http/errors.js';

/**
 * The sandbox admin API (JSON over HTTP), for tests and people. Served on the sandbox's own port
 * when it runs alone, and registered inside the presence server when it embeds the sandbox. Its
 * errors are the main API's: the same body, codes from the one registry (src/errors.ts).
 */
const Phone = Type.String({ pattern: '^\\d{7,15}$', description: 'digits only, 7 to 15' });
const ChatId = Type.String({ pattern: '^\\d{1,30}(-\\d{1,20})?@(c\\.us|s\\.whatsapp\\.net|g\\.us|lid)$', description: '"<phone>@c.us" or "<id>@g.us"' });
const PhoneParams = Type.Object({ phone: Phone });
const DeviceParams = Type.Object({ phone: Phone, device: Type.String({ pattern: '^[1-9]\\d{0,2}$', description: 'a linked device id: 1 to 999' }) });

const FORMATS: Record<string, string> = {
  phone: 'a phone number, digits only, 7 to 15 of them (e.g. 4915550001)',
  chatId: 'a chat id: "<phone>@c.us" or "<id>@g.us"',
  participants: 'a chat id "<phone>@c.us"',
  device: 'a linked device id, a whole number from 1 to 999 (GET /api/sandbox/accounts lists each account\'s devices)',
};

/** The registry code of each kind of refusal; its HTTP status comes from the one mapping in src/http/errors.ts. */
const CODES: Record<SandboxError['kind'], ErrorCode> = {
  invalid: 'VALIDATION_FAILED',
  not_found: 'SANDBOX_NOT_FOUND',
  conflict: 'SANDBOX_CONFLICT',
  rejected: 'SANDBOX_REJECTED',
};

const SEE_INFO = 'see GET /api/sandbox/info for the admin API';

/** `participants[1]` → `participants`, `params.phone` → `phone`: the key of FORMATS. */
const formatOf = (field: string): string | undefined => FORMATS[field.replace(/\[\d+\]$/, '').split('.').at(-1) ?? field];

/** The main API's error body, with a message that says what a valid value looks like. */
export function sandboxErrorBody(error: FastifyError | SandboxError): ErrorBody | null {
  if (error instanceof SandboxError) return errorBody(new AppError(CODES[error.kind], error.message));
  if (error.validation) {
    const { field, message } = validationMessage(error.validationContext, error.validation);
    // Ajv says "must match pattern ^\d{7,15}$"; say what a valid value looks like instead.
    const pattern = error.validation[0]?.keyword === 'pattern';
    const text = pattern ? `${field} must be ${formatOf(field) ?? 'well-formed'}` : message;
    return errorBody(new AppError('VALIDATION_FAILED', `${text}; ${SEE_INFO}`, { field }));
  }
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return errorBody(new AppError(error.statusCode === 404 ? 'NOT_FOUND' : 'VALIDATION_FAILED', error.message));
  }
  return null;
}

/** One of `values`, validated as a JSON Schema `enum`, which errors as "must be one of: …". */
const OneOf = <T extends string>(values: readonly T[]) => Type.Unsafe<T>({ type: 'string', enum: [...values] });

// One tag groups the sandbox's routes in the API docs, apart from the WAHA-compatible ones.
const doc = (summary: string): { tags: string[]; summary: string } => ({ tags: ['sandbox'], summary });

export const sandboxAdminRoutes: FastifyPluginAsync<{ network: SandboxNetwork }> = (instance, { network }) => {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();

  app.setErrorHandler((error: FastifyError | SandboxError, _request, reply) => {
    const body = sandboxErrorBody(error);
    if (body !== null) return reply.status(body.statusCode).send(body);
    instance.log.error({ err: error }, 'sandbox admin request failed');
    return reply.status(500).send(errorBody(new AppError('INTERNAL', 'the sandbox failed to handle this request; see its log')));
  });

  app.get('/api/sandbox/info', { schema: doc('What the sandbox network offers and how it is set') }, () => ({
    autoPair: network.autoPair,
    chatStateTtlMs: network.chatStateTtlMs,
    routes: [
      'POST /api/sandbox/contacts {phone, name?, lastSeenPrivacy?: everyone|nobody}',
      'POST /api/sandbox/contacts/{phone}/presence {presence: online|offline|typing|recording|paused, chatId?}',
      'GET /api/sandbox/contacts/{phone}/received',
      'POST /api/sandbox/groups {subject, participants: [chatId]}',
      'POST /api/sandbox/scan {qr, phone?, name?}',
      'POST /api/sandbox/link-code {phone, code, name?}',
      'GET /api/sandbox/accounts',
      'POST /api/sandbox/accounts/{phone}/drop',
      'POST /api/sandbox/accounts/{phone}/devices/{device}/remove',
      'POST /api/sandbox/accounts/{phone}/ban',
      'POST /api/sandbox/accounts/{phone}/unban',
    ],
  }));

  app.post('/api/sandbox/contacts', {
    schema: {
      ...doc('Add a sandbox contact (a WhatsApp account no phone backs)'),
      body: Type.Object({
        phone: Phone,
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
        lastSeenPrivacy: Type.Optional(OneOf(LAST_SEEN_PRIVACIES)),
      }, { additionalProperties: false }),
    },
  }, async (request, reply) => {
    const body = request.body;
    const created = await network.createContact({
      phone: body.phone,
      ...(body.name === undefined ? {} : { name: body.name }),
      ...(body.lastSeenPrivacy === undefined ? {} : { lastSeenPrivacy: body.lastSeenPrivacy }),
    });
    return reply.status(201).send(created);
  });

  app.post('/api/sandbox/contacts/:phone/presence', {
    schema: {
      ...doc('Make a sandbox contact go online, offline, type, record or pause'),
      params: PhoneParams,
      body: Type.Object({
        presence: OneOf(CONTACT_PRESENCES),
        chatId: Type.Optional(ChatId),
      }, { additionalProperties: false }),
    },
  }, async (request) => {
    const { presence, chatId } = request.body;
    await network.setContactPresence(request.params.phone, { presence, ...(chatId === undefined ? {} : { chatId }) });
    return { ok: true };
  });

  app.get('/api/sandbox/contacts/:phone/received', { schema: { ...doc('What a sandbox contact has received (presence, chat states)'), params: PhoneParams } }, async (request) =>
    network.received(request.params.phone));

  app.post('/api/sandbox/groups', {
    schema: {
      ...doc('Create a sandbox group of contacts'),
      body: Type.Object({
        subject: Type.String({ minLength: 1, maxLength: 100 }),
        participants: Type.Array(ChatId, { minItems: 2, maxItems: 1024 }),
      }, { additionalProperties: false }),
    },
  }, async (request, reply) => reply.status(201).send(await network.createGroup(request.body)));

  app.post('/api/sandbox/scan', {
    schema: {
      ...doc("Scan a session's QR code as a sandbox phone would"),
      body: Type.Object({
        qr: Type.String({ minLength: 1, maxLength: 2000 }),
        phone: Type.Optional(Phone),
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
      }, { additionalProperties: false }),
    },
  }, async (request) => {
    const { qr, phone, name } = request.body;
    return network.scan({ qr, ...(phone === undefined ? {} : { phone }), ...(name === undefined ? {} : { name }) });
  });

  app.post('/api/sandbox/link-code', {
    schema: {
      ...doc("Type a session's pairing code on a sandbox phone"),
      body: Type.Object({
        phone: Phone,
        code: Type.String({ minLength: 1, maxLength: 20, description: 'the code the device shows, e.g. "ABCD-EFGH" (case and dash do not matter)' }),
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
      }, { additionalProperties: false }),
    },
  }, async (request) => {
    const { phone, code, name } = request.body;
    return network.enterLinkCode({ phone, code, ...(name === undefined ? {} : { name }) });
  });

  app.get('/api/sandbox/accounts', { schema: doc('List the sandbox accounts and their devices') }, async () => network.accounts());

  app.post('/api/sandbox/accounts/:phone/drop', { schema: { ...doc("Drop the connections of an account's devices (they reconnect)"), params: PhoneParams } }, async (request) =>
    network.drop(request.params.phone));

  app.post('/api/sandbox/accounts/:phone/devices/:device/remove', { schema: { ...doc('Unlink a companion device, as "Log out" on the phone does'), params: DeviceParams } }, async (request) =>
    network.removeDevice(request.params.phone, Number(request.params.device)));

  app.post('/api/sandbox/accounts/:phone/ban', { schema: { ...doc('Ban an account: its devices are refused at login'), params: PhoneParams } }, async (request) =>
    network.ban(request.params.phone));

  app.post('/api/sandbox/accounts/:phone/unban', { schema: { ...doc('Lift a ban'), params: PhoneParams } }, async (request) =>
    network.unban(request.params.phone));
  return Promise.resolve();
};
