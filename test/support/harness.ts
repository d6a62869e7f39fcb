import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { onTestFinished } from 'vitest';
import { systemClock } from '../../src/clock.js';
import type { Clock } from '../../src/clock.js';
import { createSessionManager } from '../../src/sessions/manager.js';
import type { SessionManager } from '../../src/sessions/manager.js';
import { openStorage } from '../../src/storage/index.js';
import type { Storage } from '../../src/storage/index.js';
import { FakeEngineFactory } from './fake-engine.js';
import { RecordingPublisher, sessionEventsOver } from './recording-publisher.js';

/**
 * Test double of the server's clock: real time and timers, but a `sleep` that never waits. It
 * records the delay asked for (renewal pacing and backoff) and honours the abort signal.
 */
export function recordingClock(): Clock & { readonly delays: number[] } {
  const delays: number[] = [];
  const sleep = (ms: number, signal?: AbortSignal): Promise<void> => {
    delays.push(ms);
    if (signal?.aborted === true) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    return Promise.resolve();
  };
  return { ...systemClock, sleep, delays };
}

export const silentLogger: Logger = pino({ level: 'silent' });

/** Registers a teardown: `onTestFinished` by default; `afterAll` for a harness shared by a file. */
export type Teardown = (fn: () => Promise<void>) => void;

/** Real SQLite storage in a fresh temp dir, closed and removed when the test ends. */
export async function tempStorage(teardown: Teardown = onTestFinished): Promise<{ storage: Storage; dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-test-'));
  const storage = await openStorage({ dataDir, databaseUrl: null });
  teardown(async () => {
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { storage, dataDir };
}

export interface SessionHarness {
  readonly storage: Storage;
  readonly dataDir: string;
  readonly engines: FakeEngineFactory;
  readonly publisher: RecordingPublisher;
  readonly clock: ReturnType<typeof recordingClock>;
  readonly manager: SessionManager;
}

/** `startConcurrency`: pace engine starts as the server does (absent: no pacing). */
export async function sessionHarness(options: { readonly startConcurrency?: number } = {}): Promise<SessionHarness> {
  const { storage, dataDir } = await tempStorage();
  const engines = new FakeEngineFactory();
  const publisher = new RecordingPublisher();
  const clock = recordingClock();
  const manager = createSessionManager({ storage, engines, events: sessionEventsOver(publisher), logger: silentLogger, clock, ...options });
  onTestFinished(() => manager.shutdown());
  return { storage, dataDir, engines, publisher, clock, manager };
}
