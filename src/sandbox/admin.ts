import type { FastifyError, FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { SandboxNetwork } from './network.js';
import { CONTACT_PRESENCES, SandboxError } from './network.js';
import { LAST_SEEN_PRIVACIES } from './state.js';

/**
 * The sandbox admin API (JSON over HTTP), for tests and people. Served on the sandbox's own port
 * when it runs alone, and registered inside the presence server when it embeds the sandbox. It
 * owns its HTTP statuses: this is the sandbox's own admin server, not the product's API.
 */
const Phone = Type.String({ pattern: '^\\d{7,15}$', description: 'digits only, 7 to 15' });
const ChatId = Type.String({ pattern: '^\\d{1,30}(-\\d{1,20})?@(c\\.us|s\\.whatsapp\\.net|g\\.us|lid)$', description: '"<phone>@c.us" or "<id>@g.us"' });
const PhoneParams = Type.Object({ phone: Phone });
const DeviceParams = Type.Object({ phone: Phone, device: Type.String({ pattern: '^[1-9]\\d{0,2}$', description: 'a linked device id: 1 to 999' }) });

const FORMATS: Record<string, string> = {
  phone: 'a phone number, digits only, 7 to 15 of them (e.g. 4915550001)',
  chatId: 'a chat id: "<phone>@c.us" or "<id>@g.us"',
  participants: 'chat ids: "<phone>@c.us"',
  device: 'a linked device id, a whole number from 1 to 999 (GET /api/sandbox/accounts lists each account\'s devices)',
};

const STATUS: Record<SandboxError['kind'], number> = { invalid: 400, not_found: 404, conflict: 409, rejected: 422 };

export const sandboxAdminRoutes: FastifyPluginAsync<{ network: SandboxNetwork }> = (instance, { network }) => {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();

  app.setErrorHandler((error: FastifyError | SandboxError, _request, reply) => {
    if (error instanceof SandboxError) {
      return reply.status(STATUS[error.kind]).send({ error: error.kind, message: error.message });
    }
    if (error.validation) {
      // Ajv says "must match pattern ^\d{7,15}$"; say what a valid value looks like instead.
      const unknown = error.validation.find((issue) => issue.keyword === 'additionalProperties')?.params.additionalProperty;
      if (typeof unknown === 'string') {
        return reply.status(400).send({ error: 'invalid', message: `${unknown} is not a known field; remove it; see GET /api/sandbox/info for the admin API` });
      }
      const message = error.message.replace(/(\w+) must match pattern "[^"]*"/g, (_match, field: string) => `${field} must be ${FORMATS[/^\d+$/.test(field) ? 'participants' : field] ?? 'well-formed'}`);
      return reply.status(400).send({ error: 'invalid', message: `${message}; see GET /api/sandbox/info for the admin API` });
    }
    if (typeof error.statusCode === 'number' && error.statusCode < 500) {
      return reply.status(error.statusCode).send({ error: 'invalid', message: error.message });
    }
    instance.log.error({ err: error }, 'sandbox admin request failed');
    return reply.status(500).send({ error: 'internal', message: 'the sandbox failed to handle this request; see its log' });
  });

  app.get('/api/sandbox/info', {}, () => ({
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
      body: Type.Object({
        phone: Phone,
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
        lastSeenPrivacy: Type.Optional(Type.Union(LAST_SEEN_PRIVACIES.map((value) => Type.Literal(value)))),
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
      params: PhoneParams,
      body: Type.Object({
        presence: Type.Union(CONTACT_PRESENCES.map((value) => Type.Literal(value))),
        chatId: Type.Optional(ChatId),
      }, { additionalProperties: false }),
    },
  }, async (request) => {
    const { presence, chatId } = request.body;
    await network.setContactPresence(request.params.phone, { presence, ...(chatId === undefined ? {} : { chatId }) });
    return { ok: true };
  });

  app.get('/api/sandbox/contacts/:phone/received', { schema: { params: PhoneParams } }, async (request) =>
    network.received(request.params.phone));

  app.post('/api/sandbox/groups', {
    schema: {
      body: Type.Object({
        subject: Type.String({ minLength: 1, maxLength: 100 }),
        participants: Type.Array(ChatId, { minItems: 2, maxItems: 1024 }),
      }, { additionalProperties: false }),
    },
  }, async (request, reply) => reply.status(201).send(await network.createGroup(request.body)));

  app.post('/api/sandbox/scan', {
    schema: {
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

  app.get('/api/sandbox/accounts', {}, async () => network.accounts());

  app.post('/api/sandbox/accounts/:phone/drop', { schema: { params: PhoneParams } }, async (request) =>
    network.drop(request.params.phone));

  app.post('/api/sandbox/accounts/:phone/devices/:device/remove', { schema: { params: DeviceParams } }, async (request) =>
    network.removeDevice(request.params.phone, Number(request.params.device)));

  app.post('/api/sandbox/accounts/:phone/ban', { schema: { params: PhoneParams } }, async (request) =>
    network.ban(request.params.phone));

  app.post('/api/sandbox/accounts/:phone/unban', { schema: { params: PhoneParams } }, async (request) =>
    network.unban(request.params.phone));
  return Promise.resolve();
};
