import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import { SERVER_VERSION } from '../../events/envelope.js';

export interface HealthRoutesOptions {
  /** Whether the process talks to the real WhatsApp network or to a sandbox. */
  readonly network: 'whatsapp' | 'sandbox';
  readonly storage: 'sqlite' | 'postgres';
}

/** `GET /health`: open (no API key), for load balancers and for a person checking what runs. */
export function healthRoutes(server: FastifyInstance, { network, storage }: HealthRoutesOptions): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/health',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness, and whether this server serves the real WhatsApp or the sandbox (no API key needed)',
        security: [],
        response: {
          200: Type.Object({
            status: Type.Literal('ok'),
            network: Type.Enum(['whatsapp', 'sandbox']),
            version: Type.String(),
            storage: Type.Enum(['sqlite', 'postgres']),
          }),
        },
      },
    },
    () => Promise.resolve({ status: 'ok' as const, network, version: SERVER_VERSION, storage }),
  );
}
