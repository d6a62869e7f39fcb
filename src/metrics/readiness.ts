/**
 * What `GET /health/ready` answers: whether a load balancer should send this server requests.
 * Liveness (`/health`) says the process runs; readiness says it can serve: its database migrated
 * and answering, its start finished, on several servers its lease renewer alive, and it is not
 * shutting down.
 */
export interface Readiness {
  /** The start finished (sessions resumed, on several servers the cluster joined). */
  markStarted(): void;
  /** From the first shutdown signal on, ready is false for good. */
  markStopping(): void;
  check(): Promise<ReadinessReport>;
}

export type CheckResult = 'ok' | 'failing' | 'pending';

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, CheckResult>>;
  /** For a person: why not ready (absent when ready). */
  readonly reason?: string;
}

export interface ReadinessOptions {
  /** Migrations ran: `openStorage` applies them before it resolves, so true once storage is open. */
  readonly migrated: () => boolean;
  /** A cheap query (`SELECT 1`-like); rejects or outlasts `timeoutMs` when the database does not answer. */
  readonly ping: () => Promise<void>;
  /** Several servers: whether the lease renewer thread is alive. */
  readonly renewerAlive?: () => boolean;
  readonly timeoutMs?: number;
}

export const READINESS_TIMEOUT_MS = 1000;

export function createReadiness(options: ReadinessOptions): Readiness {
  const timeoutMs = options.timeoutMs ?? READINESS_TIMEOUT_MS;
  let started = false;
  let stopping = false;

  async function storage(): Promise<CheckResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<CheckResult>((resolve) => {
      timer = setTimeout(() => resolve('failing'), timeoutMs);
    });
    try {
      return await Promise.race([options.ping().then((): CheckResult => 'ok', (): CheckResult => 'failing'), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    markStarted() {
      started = true;
    },
    markStopping() {
      stopping = true;
    },
    async check() {
      const checks: Record<string, CheckResult> = {
        migrations: options.migrated() ? 'ok' : 'pending',
        storage: await storage(),
        started: started ? 'ok' : 'pending',
        shutdown: stopping ? 'failing' : 'ok',
      };
      if (options.renewerAlive !== undefined) checks.leaseRenewer = options.renewerAlive() ? 'ok' : 'failing';
      const notOk = Object.entries(checks).filter(([, result]) => result !== 'ok');
      if (notOk.length === 0) return { ready: true, checks };
      const reason = stopping ? 'shutting down' : notOk.map(([name, result]) => `${name} ${result}`).join(', ');
      return { ready: false, checks, reason };
    },
  };
}
