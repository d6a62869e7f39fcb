import type { Engine, EngineContext, EngineEvent, EngineFactory } from '../../src/engines/engine.js';
import type { Me } from '../../src/presence/sessions.js';
import type { ChatPresenceStatus, GlobalPresence, SessionStatus } from '../../src/presence/status.js';
import type { ParticipantPresence } from '../../src/presence/types.js';

/**
 * Test double of an engine: records every command, lets the test play WhatsApp (emit status, QR,
 * me, presence), and fails loudly on anything a real engine would refuse (a command before start or
 * after stop, a second start). Never a product engine.
 */
export type FakeEngineCall =
  | { readonly method: 'start' | 'stop' | 'logout' }
  | { readonly method: 'setPresence'; readonly presence: GlobalPresence }
  | { readonly method: 'setChatPresence'; readonly chatId: string; readonly presence: ChatPresenceStatus; readonly durationMs?: number }
  | { readonly method: 'subscribe'; readonly chatId: string }
  | { readonly method: 'requestPairingCode'; readonly phoneNumber: string };

type Method = FakeEngineCall['method'];

export const FAKE_LOGOUT_REASON = 'Logged out (fake engine)';

export class FakeEngine implements Engine {
  readonly calls: FakeEngineCall[] = [];
  /** `ended`: the engine stopped by itself (`endedByWhatsApp`); only `stop` is still expected. */
  state: 'created' | 'started' | 'stopped' | 'logged-out' | 'ended' = 'created';
  pairingCode = 'ABCD-1234';
  private readonly failures = new Map<Method, Error[]>();
  private readonly holds = new Map<Method, Promise<void>>();

  constructor(readonly context: EngineContext) {}

  get session(): string {
    return this.context.session;
  }

  /** The next `count` calls of `method` reject with `error` (after being recorded). */
  failNext(method: Method, error: Error, count = 1): this {
    const queue = this.failures.get(method) ?? [];
    for (let i = 0; i < count; i += 1) queue.push(error);
    this.failures.set(method, queue);
    return this;
  }

  /** Calls of `method` wait for `gate` before they resolve (to observe work in progress). */
  hold(method: Method, gate: Promise<void>): this {
    this.holds.set(method, gate);
    return this;
  }

  callsOf<M extends Method>(method: M): Extract<FakeEngineCall, { method: M }>[] {
    return this.calls.filter((call): call is Extract<FakeEngineCall, { method: M }> => call.method === method);
  }

  emit(event: EngineEvent): void {
    if (this.state !== 'started') throw new Error(`FakeEngine(${this.session}): emit ${event.type} while ${this.state}`);
    this.context.emit(event);
  }

  status(status: SessionStatus): void {
    this.emit({ type: 'status', status });
  }

  qr(value: string): void {
    this.emit({ type: 'qr', value });
  }

  me(me: Me): void {
    this.emit({ type: 'me', me });
  }

  presence(chatId: string, presences: readonly ParticipantPresence[]): void {
    this.emit({ type: 'presence', chatId, presences });
  }

  /**
   * WhatsApp ended the session for good (logged out from the phone, replaced, banned): the engine
   * reports the final status with its reason and will not reconnect, as the NOWEB engine does.
   */
  endedByWhatsApp(status: 'STOPPED' | 'FAILED', reason: string, unlinked = false): void {
    this.emit({ type: 'status', status, reason, ...(unlinked ? { unlinked } : {}) });
    this.state = 'ended';
  }

  /** The usual login: the account, then WORKING. */
  working(me: Me = { id: '15550000001@c.us', pushName: 'Test' }): void {
    this.me(me);
    this.status('WORKING');
  }

  private async record(call: FakeEngineCall, allowedIn: readonly FakeEngine['state'][]): Promise<void> {
    if (!allowedIn.includes(this.state)) {
      throw new Error(`FakeEngine(${this.session}): unexpected ${call.method} while ${this.state}`);
    }
    this.calls.push(call);
    const gate = this.holds.get(call.method);
    if (gate !== undefined) await gate;
    const failure = this.failures.get(call.method)?.shift();
    if (failure !== undefined) throw failure;
  }

  async start(): Promise<void> {
    await this.record({ method: 'start' }, ['created']);
    this.state = 'started';
  }

  async stop(): Promise<void> {
    // Idempotent, as the interface says; stop after logout is what the session layer does.
    await this.record({ method: 'stop' }, ['created', 'started', 'stopped', 'logged-out', 'ended']);
    if (this.state === 'started' || this.state === 'created' || this.state === 'ended') this.state = 'stopped';
  }

  /** Like the NOWEB engine, reports STOPPED with why once the credentials are gone. */
  async logout(): Promise<void> {
    await this.record({ method: 'logout' }, ['started']);
    this.emit({ type: 'status', status: 'STOPPED', reason: FAKE_LOGOUT_REASON, unlinked: true });
    this.state = 'logged-out';
  }

  async setPresence(presence: GlobalPresence): Promise<void> {
    await this.record({ method: 'setPresence', presence }, ['started']);
  }

  async setChatPresence(chatId: string, presence: ChatPresenceStatus, options?: { readonly durationMs?: number }): Promise<void> {
    const call: FakeEngineCall =
      options?.durationMs === undefined
        ? { method: 'setChatPresence', chatId, presence }
        : { method: 'setChatPresence', chatId, presence, durationMs: options.durationMs };
    await this.record(call, ['started']);
  }

  async subscribe(chatId: string): Promise<void> {
    await this.record({ method: 'subscribe', chatId }, ['started']);
  }

  async requestPairingCode(phoneNumber: string): Promise<string> {
    await this.record({ method: 'requestPairingCode', phoneNumber }, ['started']);
    return this.pairingCode;
  }
}

export class FakeEngineFactory implements EngineFactory {
  readonly name = 'fake';
  readonly engines: FakeEngine[] = [];
  /** Called with each engine right after it is created (e.g. to make its start fail). */
  onCreate: ((engine: FakeEngine) => void) | null = null;

  create(context: EngineContext): FakeEngine {
    const engine = new FakeEngine(context);
    this.engines.push(engine);
    this.onCreate?.(engine);
    return engine;
  }

  /** The newest engine of the session; throws when none was created. */
  latest(session: string): FakeEngine {
    const engine = this.engines.filter((candidate) => candidate.session === session).at(-1);
    if (engine === undefined) throw new Error(`FakeEngineFactory: no engine was created for session "${session}"`);
    return engine;
  }

  count(session: string): number {
    return this.engines.filter((candidate) => candidate.session === session).length;
  }
}
