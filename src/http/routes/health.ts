import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from '@fastify/type-provider-typebox';
import { SERVER_VERSION } from '../../events/envelope.js';
import type { Readiness } from '../../metrics/readiness.js';

export interface HealthRoutesOptions {
  /** Whether the process talks to the real WhatsApp network or to a sandbox. */
  readonly network: 'whatsapp' | 'sandbox';
  readonly storage: 'sqlite' | 'postgres';
  /** `GET /health/ready`; without it the route answers from liveness alone (tests of other routes). */
  readonly readiness?: Readiness;
}

const Check = Type.Enum(['ok', 'failing', 'pending']);
const ReadySchema = Type.Object({
  status: Type.Enum(['ready', 'not_ready']),
  checks: Type.Record(Type.String(), Check),
  reason: Type.Optional(Type.String()),
});

/** `GET /health`: open (no API key), for load balancers and for a person checking what runs. */
export function healthRoutes(server: FastifyInstance, { network, storage, readiness }: HealthRoutesOptions): void {
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
  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness for a load balancer: 200 when migrated, the storage answers, the start finished (and on several servers the lease renewer runs); 503 otherwise and while shutting down',
        security: [],
        response: { 200: ReadySchema, 503: ReadySchema },
      },
    },
    async (_request, reply) => {
      if (readiness === undefined) return { status: 'ready' as const, checks: {} };
      const report = await readiness.check();
      const body = { status: report.ready ? ('ready' as const) : ('not_ready' as const), checks: report.checks, ...(report.reason === undefined ? {} : { reason: report.reason }) };
      return reply.code(report.ready ? 200 : 503).send(body);
    },
  );
}
