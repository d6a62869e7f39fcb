import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the test receiver got. */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The exact bytes received. */
  readonly raw: Buffer;
  readonly body: unknown;
  /** Status the receiver answered. */
  readonly status: number;
}

export type Responder = (request: { path: string; body: unknown; raw: Buffer }) => number | { status: number; headers?: Record<string, string> };

/**
 * Test double: a real HTTP webhook receiver on 127.0.0.1 that records every request and answers
 * what the test tells it (200 by default). Anything but a POST with a JSON body is answered 405/400
 * and recorded, so a test asserting on `requests` sees it.
 */
export class ReceiverDouble {
  readonly requests: ReceivedRequest[] = [];
  private server: Server | null = null;
  private waiters: { predicate: () => boolean; resolve: () => void }[] = [];
  responder: Responder = () => 200;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Listens on `port` (0: any free port, kept for later restarts). */
  async start(port = this.port): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        let body: unknown = null;
        let status = 200;
        let headers: Record<string, string> = {};
        if (req.method !== 'POST') status = 405;
        else {
          try {
            body = JSON.parse(raw.toString('utf8'));
          } catch {
            // Recorded with status 400: the assertion on `requests` shows the bad body.
            status = 400;
          }
        }
        if (status === 200) {
          const answer = this.responder({ path: req.url ?? '', body, raw });
          if (typeof answer === 'number') status = answer;
          else {
            status = answer.status;
            headers = answer.headers ?? {};
          }
        }
        this.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw, body, status });
        res.writeHead(status, headers).end();
        this.check();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Stops listening and drops open connections: the receiver is "down". */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Bodies of the requests answered 2xx. */
  delivered(): unknown[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.body);
  }

  deliveredIds(): string[] {
    return this.delivered().map((body) => (body as { id: string }).id);
  }

  /** Resolves once `predicate` holds after some request (or at once if it already does). */
  waitFor(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ predicate, resolve }));
  }

  private check(): void {
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.predicate()) return true;
      waiter.resolve();
      return false;
    });
  }
}
