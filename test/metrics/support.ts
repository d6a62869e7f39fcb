import { spawnSync } from 'node:child_process';
import { onTestFinished } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.js';
import { createServer } from '../../src/server.js';
import type { SessionManager } from '../../src/sessions/manager.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import type { Metrics } from '../../src/metrics/metrics.js';
import type { Readiness } from '../../src/metrics/readiness.js';
import type { Storage } from '../../src/storage/index.js';
import { FakeEngineFactory } from '../support/fake-engine.js';
import { recordingClock, silentLogger, tempStorage } from '../support/harness.js';
import { RecordingPublisher } from '../support/recording-publisher.js';

export const KEY = 'metrics-key';

export const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

/** `promtool check metrics` (or `check rules <file>`): exit status and what it printed. */
export function promtool(args: readonly string[], input?: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8', ...(input === undefined ? {} : { input }) });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

export interface MetricsHarness {
  readonly app: { readonly server: FastifyInstance; readonly sessions: SessionManager };
  readonly metrics: Metrics;
  readonly engines: FakeEngineFactory;
  readonly storage: Storage;
  scrape(headers?: Record<string, string>): Promise<{ status: number; text: string }>;
  /** The value of one series (`name{a="b",…}` exactly as exposed), or null when absent. */
  value(series: string): Promise<number | null>;
}

/** The server wired as createServer wires it (instrumented storage, engines, publisher, gauges, /metrics) over a fake engine. */
export async function metricsHarness(options: { readonly sessionLabels?: boolean; readonly readiness?: Readiness } = {}): Promise<MetricsHarness> {
  const metrics = createMetrics({ sessionLabels: options.sessionLabels ?? false });
  const { storage: raw } = await tempStorage();
  const engines = new FakeEngineFactory();
  const config = loadConfig({ WHATSAPP_API_KEY: KEY }, []);
  // Wired by createServer as in production: instrumented storage, engines, publisher, gauges, /metrics.
  const server = await createServer(config, {
    storage: raw,
    engines,
    publisher: new RecordingPublisher(),
    logger: silentLogger,
    clock: recordingClock(),
    metrics,
    ...(options.readiness === undefined ? {} : { readiness: options.readiness }),
  });
  onTestFinished(() => server.close());
  const app = { server: server.http, sessions: server.sessions };
  const storage = server.storage;
  const scrape = async (headers: Record<string, string> = { authorization: `Bearer ${KEY}` }): Promise<{ status: number; text: string }> => {
    const response = await app.server.inject({ method: 'GET', url: '/metrics', headers });
    return { status: response.statusCode, text: response.body };
  };
  return {
    app,
    metrics,
    engines,
    storage,
    scrape,
    async value(series) {
      const { text } = await scrape();
      const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
      return line === undefined ? null : Number(line.slice(series.length + 1));
    },
  };
}
