import { randomBytes } from 'node:crypto';
import type { EventEnvelope, EventEnvironment, EventName, EventPayloads } from '../presence/events.js';
import type { EngineName, Me } from '../presence/sessions.js';

/** Reported in every envelope's `environment.version`; kept equal to package.json by a test. */
export const SERVER_VERSION = '0.1.0';

/** What an envelope says about the session that emitted it. */
export interface EnvelopeSource {
  readonly session: string;
  /** The session's `config.metadata`, or null when it has none. */
  readonly metadata: Readonly<Record<string, string>> | null;
  readonly me: Me | null;
  readonly engine: EngineName;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function encodeTime(ms: number): string {
  let out = '';
  let rest = ms;
  for (let i = 0; i < 10; i += 1) {
    out = CROCKFORD.charAt(rest % 32) + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits → 16 base-32 characters, 5 bits at a time.
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += CROCKFORD.charAt((buffer >> bits) & 31);
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

let lastTime = -1;
let lastRandom: Uint8Array = new Uint8Array(10);

function incremented(bytes: Uint8Array): Uint8Array {
  const next = Uint8Array.from(bytes);
  for (let i = next.length - 1; i >= 0; i -= 1) {
    const value = (next[i] ?? 0) + 1;
    next[i] = value & 0xff;
    if (value <= 0xff) return next;
  }
  // 2^80 ids in one millisecond cannot happen; wrapping to zero keeps the id well-formed anyway.
  return next;
}

/**
 * A ULID (Crockford base-32, 48-bit ms time + 80 random bits) prefixed with `evt_`. Ids sort by
 * creation time, and within one millisecond of this process they are strictly increasing (the
 * random part is incremented), so receivers can de-duplicate on `id` and order by it.
 */
export function newEventId(now: number): string {
  if (now > lastTime) {
    lastTime = now;
    lastRandom = new Uint8Array(randomBytes(10));
  } else {
    // Same (or an earlier, clock stepped back) millisecond: stay monotonic.
    lastRandom = incremented(lastRandom);
  }
  return `evt_${encodeTime(lastTime)}${encodeRandom(lastRandom)}`;
}

/**
 * WAHA's envelope for one event, with a fresh id and `timestamp` in milliseconds. `environment` is
 * this server's (`wahaEnvironment(SERVER_VERSION, serverId)`), the same for all its events.
 */
export function makeEnvelope<E extends EventName>(
  event: E,
  payload: EventPayloads[E],
  source: EnvelopeSource,
  environment: EventEnvironment,
  now: number,
): EventEnvelope<E> {
  return {
    id: newEventId(now),
    timestamp: now,
    event,
    session: source.session,
    metadata: source.metadata,
    me: source.me,
    engine: source.engine,
    environment,
    payload,
  };
}
