import { onTestFinished } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.js';
import { createServer } from '../../src/server.js';
import type { Server, ServerOverrides } from '../../src/server.js';
import type { Me } from '../../src/presence/sessions.js';
import { FakeEngineFactory } from './fake-engine.js';
import type { FakeEngine } from './fake-engine.js';
import { recordingClock, silentLogger, tempStorage } from './harness.js';
import type { Teardown } from './harness.js';
import { RecordingPublisher } from './recording-publisher.js';
import type { Storage } from '../../src/storage/index.js';

export const API_KEY = 'test-key';
export const ME: Me = { id: '15550000001@c.us', pushName: 'Test' };

export interface HttpHarness {
  /** The whole server as src/server.ts builds it (not listening). */
  readonly app: Server;
  /** Its Fastify instance: `inject`, `listen`; closing it stops the engines. */
  readonly server: FastifyInstance;
  readonly sessions: Server['sessions'];
  readonly apiKey: string;
  readonly routes: Server['routes'];
  readonly storage: Storage;
  readonly engines: FakeEngineFactory;
  readonly publisher: RecordingPublisher;
  /** An authenticated request; `body` is sent as JSON. */
  request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** Creates a session and drives its fake engine to WORKING. */
  working(name?: string): Promise<FakeEngine>;
}

/** The server (`createServer`) over real SQLite storage in a temp dir, a fake engine and a recording publisher. */
export async function httpHarness(env: Record<string, string> = {}, extra: ServerOverrides = {}, teardown: Teardown = onTestFinished): Promise<HttpHarness> {
  const { storage } = await tempStorage(teardown);
  const engines = new FakeEngineFactory();
  const publisher = new RecordingPublisher();
  const config = loadConfig({ WHATSAPP_API_KEY: API_KEY, ...env }, []);
  const app = await createServer(config, { storage, engines, publisher, logger: silentLogger, clock: recordingClock(), ...extra });
  teardown(() => app.close());
  const harness: HttpHarness = {
    app,
    server: app.http,
    sessions: app.sessions,
    apiKey: app.apiKey,
    routes: app.routes,
    storage,
    engines,
    publisher,
    request(method, url, body, headers = {}) {
      return app.http.inject({
        method,
        url,
        headers: { 'x-api-key': API_KEY, ...headers },
        ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
      });
    },
    async working(name = 'default') {
      const created = await harness.request('POST', '/api/sessions', { name });
      if (created.statusCode !== 201) throw new Error(`creating session ${name} failed: ${created.body}`);
      const engine = engines.latest(name);
      engine.working(ME);
      await app.sessions.settled(name);
      return engine;
    },
  };
  return harness;
}
