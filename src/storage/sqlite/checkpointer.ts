import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { SqliteDatabase } from './database.js';
import { INLINE_AUTOCHECKPOINT_PAGES } from './database.js';

/**
 * Copies the WAL back into the database file from a worker thread, on a connection of its own.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses `wal_autocheckpoint` pages, on
 * the event loop, and waits for two fsyncs: bench/presence-pipeline.ts at 2,000 updates/s showed it
 * as most of the p99 (43–55 ms with it, 12–31 ms without). A PASSIVE checkpoint from another
 * connection never blocks the writer or readers (it copies what no reader still needs), so the
 * event loop only appends to the WAL. Should the thread fail, the main connection checkpoints by
 * itself again.
 */
export interface Checkpointer {
  /** The thread's checkpoints so far (a test and the logs read it). */
  stats(): Promise<CheckpointStats>;
  /** A last checkpoint, then the thread ends. Idempotent. */
  stop(): Promise<void>;
}

export interface CheckpointStats {
  readonly checkpoints: number;
  /** WAL frames copied into the database file. */
  readonly frames: number;
}

export interface CheckpointerOptions {
  /** Between two checkpoints; the WAL holds about this long of writes. */
  readonly intervalMs?: number;
  readonly logger?: Logger;
}

// CommonJS, run with `eval`: the thread needs no file of its own in src/ or dist/.
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
let checkpoints = 0;
let frames = 0;
function checkpoint() {
  const [row] = db.pragma('wal_checkpoint(PASSIVE)');
  checkpoints += 1;
  if (row && row.checkpointed > 0) frames += row.checkpointed;
}
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message === 'stats') parentPort.postMessage({ kind: 'stats', checkpoints, frames });
  if (message === 'stop') {
    clearInterval(timer);
    try { checkpoint(); } finally { db.close(); }
    parentPort.close();
  }
});
parentPort.postMessage({ kind: 'ready' });
`;

interface ThreadMessage {
  readonly kind: 'ready' | 'stats';
  readonly checkpoints?: number;
  readonly frames?: number;
}

/**
 * Starts the thread and, once it has the file open, turns the main connection's automatic
 * checkpoint off. Resolves null (the main connection keeps checkpointing) when it cannot start.
 */
export function startCheckpointer(db: SqliteDatabase, options: CheckpointerOptions = {}): Promise<Checkpointer | null> {
  const intervalMs = options.intervalMs ?? 250;
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  let worker: Worker;
  try {
    worker = new Worker(THREAD, { eval: true, workerData: { driver, file: db.name, intervalMs } });
  } catch (error) {
    options.logger?.warn({ err: error }, 'SQLite checkpoint thread did not start; checkpointing on the main thread');
    return Promise.resolve(null);
  }
  let stopping = false;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const waiting: ((stats: CheckpointStats) => void)[] = [];
  // What the thread last reported: the answer once it is stopping or gone.
  let last: CheckpointStats = { checkpoints: 0, frames: 0 };

  return new Promise<Checkpointer | null>((resolve) => {
    const fallBack = (error: unknown): void => {
      if (stopping) return;
      stopping = true;
      if (db.open) db.pragma(`wal_autocheckpoint = ${INLINE_AUTOCHECKPOINT_PAGES}`);
      options.logger?.warn({ err: error }, 'SQLite checkpoint thread failed; checkpointing on the main thread');
      resolve(null);
    };
    worker.once('error', fallBack);
    worker.once('exit', (code) => fallBack(new Error(`the checkpoint thread exited with code ${code}`)));
    worker.on('message', (message: ThreadMessage) => {
      if (message.kind === 'stats') {
        last = { checkpoints: message.checkpoints ?? 0, frames: message.frames ?? 0 };
        for (const done of waiting.splice(0)) done(last);
        return;
      }
      db.pragma('wal_autocheckpoint = 0');
      // Once running, the thread does not keep the process alive: a server's close stops it.
      worker.unref();
      resolve({
        stats: () =>
          new Promise<CheckpointStats>((done) => {
            if (stopping) {
              done(last);
              return;
            }
            waiting.push(done);
            worker.postMessage('stats');
          }),
        stop: () => {
          if (!stopping) {
            stopping = true;
            // Waited for: it must keep the process alive until it has closed the file.
            worker.ref();
            worker.postMessage('stop');
          }
          return exited;
        },
      });
    });
  });
}
