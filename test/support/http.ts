import { onTestFinished } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app.js';
import type { App, AppDeps } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Me } from '../../src/presence/sessions.js';
import { FakeEngineFactory } from './fake-engine.js';
import type { FakeEngine } from './fake-engine.js';
import { recordingSleep, silentLogger, tempStorage } from './harness.js';
import type { Teardown } from './harness.js';
import { RecordingPublisher } from './recording-publisher.js';
import type { Storage } from '../../src/storage/index.js';

export const API_KEY = 'test-key';
export const ME: Me = { id: '15550000001@c.us', pushName: 'Test' };

export interface HttpHarness extends App {
  readonly storage: Storage;
  readonly engines: FakeEngineFactory;
  readonly publisher: RecordingPublisher;
  /** An authenticated request; `body` is sent as JSON. */
  request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** Creates a session and drives its fake engine to WORKING. */
  working(name?: string): Promise<FakeEngine>;
}

/** The app over real SQLite storage in a temp dir, a fake engine and a recording publisher. */
export async function httpHarness(env: Record<string, string> = {}, extra: Partial<AppDeps> = {}, teardown: Teardown = onTestFinished): Promise<HttpHarness> {
  const { storage } = await tempStorage(teardown);
  const engines = new FakeEngineFactory();
  const publisher = new RecordingPublisher();
  const config = loadConfig({ WHATSAPP_API_KEY: API_KEY, ...env }, []);
  const app = await buildApp({ config, storage, engines, publisher, logger: silentLogger, sleep: recordingSleep(), ...extra });
  teardown(() => app.server.close());
  const harness: HttpHarness = {
    ...app,
    storage,
    engines,
    publisher,
    request(method, url, body, headers = {}) {
      return app.server.inject({
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
