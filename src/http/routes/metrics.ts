import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface MetricsRoutesOptions {
  readonly registry: Registry;
}

/**
 * `GET /metrics`: the registry in Prometheus' text format. Registered inside the API-key scope (a
 * scrape config sends the key as `Authorization: Bearer <key>`); hidden from the OpenAPI document,
 * which describes the WAHA-shaped JSON API, and documented in the README instead.
 */
export function metricsRoutes({ registry }: MetricsRoutesOptions): (scope: FastifyInstance) => Promise<void> {
  return (scope) => {
    scope.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      const text = await registry.metrics();
      return reply.type(registry.contentType).send(text);
    });
    return Promise.resolve();
  };
}
