import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import QRCode from 'qrcode';
import { AppError } from '../../errors.js';
import type { SessionManager } from '../../sessions/manager.js';
import { SessionParamsSchema, errors } from '../schemas.js';
import { acceptsJsonOnly, dropNullFields } from '../waha.js';

export interface AuthRoutesOptions {
  readonly sessions: SessionManager;
}

const RawQrSchema = Type.Object({ value: Type.String({ description: 'The QR text; render it yourself' }) });
const Base64QrSchema = Type.Object({ mimetype: Type.Literal('image/png'), data: Type.String({ description: 'PNG, base64' }) });

/** Login: the QR to scan (WAHA's `auth/qr`) and the pairing code for login by phone number. */
export function authRoutes(server: FastifyInstance, { sessions }: AuthRoutesOptions): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['auth'];

  app.get(
    '/api/:session/auth/qr',
    {
      schema: {
        tags,
        summary: 'The QR code to scan while the session is SCAN_QR_CODE: a PNG, or the raw value with format=raw',
        description:
          'format=image (default) answers image/png, or {mimetype, data} in base64 when the Accept header asks for application/json and nothing else (as WAHA: axios\' default `application/json, text/plain, */*` gets the PNG).',
        params: SessionParamsSchema,
        querystring: Type.Object({ format: Type.Optional(Type.Enum(['image', 'raw'])) }),
        response: {
          200: {
            description: 'The QR code',
            content: {
              'image/png': { schema: Type.Unsafe<Buffer>({ type: 'string', format: 'binary' }) },
              'application/json': { schema: Type.Union([RawQrSchema, Base64QrSchema]) },
            },
          },
          ...errors(400, 404, 422),
        },
      },
    },
    async (request, reply) => {
      const value = await sessions.qr(request.params.session);
      if (request.query.format === 'raw') return reply.type('application/json').send({ value });
      const png = await QRCode.toBuffer(value, { type: 'png', margin: 2, width: 300 });
      if (acceptsJsonOnly(request.headers.accept)) {
        return reply.type('application/json').send({ mimetype: 'image/png' as const, data: png.toString('base64') });
      }
      return reply.type('image/png').send(png);
    },
  );

  app.post(
    '/api/:session/auth/request-code',
    {
      schema: {
        tags,
        summary: 'Log in by phone number: ask for a pairing code to type on the phone (session must be SCAN_QR_CODE)',
        params: SessionParamsSchema,
        body: Type.Object(
          {
            phoneNumber: Type.String({ description: 'International format, digits only (a leading + is allowed)', examples: ['12132132130'] }),
            method: Type.Optional(Type.String({ description: 'Accepted for WAHA compatibility; ignored' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ code: Type.String({ examples: ['ABCD-ABCD'] }) }), ...errors(400, 404, 422, 502) },
      },
      preValidation: dropNullFields,
    },
    async (request, reply) => {
      const phoneNumber = request.body.phoneNumber.replace(/^\+/, '');
      if (!/^[0-9]{6,20}$/.test(phoneNumber)) {
        throw new AppError('VALIDATION_FAILED', `phoneNumber "${request.body.phoneNumber}" must be the number in international format, digits only, e.g. 12132132130`, {
          field: 'phoneNumber',
        });
      }
      const code = await sessions.requestPairingCode(request.params.session, phoneNumber);
      return reply.code(201).send({ code });
    },
  );
}
