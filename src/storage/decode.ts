import { ENGINES } from '../presence/sessions.js';
import type { EngineName, Me, SessionConfig } from '../presence/sessions.js';
import { SESSION_STATUSES, isPresenceStatus } from '../presence/status.js';
import type { PresenceStatus, SessionStatus } from '../presence/status.js';
import type { ChatPresence, ParticipantPresence } from '../presence/types.js';
import type { StoredSession } from './sessions.js';

/**
 * Turns rows back into domain values for both backends. The database is ours, but a row written by
 * a newer version, or edited by hand, must fail loudly here rather than deep inside an engine.
 */
export class StorageCorruptError extends Error {
  override readonly name = 'StorageCorruptError';
}

export interface SessionRowValues {
  readonly name: string;
  readonly engine: string;
  /** Parsed JSON. */
  readonly config: unknown;
  readonly running: boolean;
  /** Parsed JSON, or null. */
  readonly me: unknown;
  readonly presence: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function decodeSession(row: SessionRowValues): StoredSession {
  const engine = ENGINES.find((known) => known === row.engine);
  if (engine === undefined) throw new StorageCorruptError(`session "${row.name}" has unknown engine "${row.engine}"`);
  if (!isRecord(row.config)) throw new StorageCorruptError(`session "${row.name}" has a config that is not an object`);
  if (row.me !== null && (!isRecord(row.me) || typeof row.me['id'] !== 'string')) {
    throw new StorageCorruptError(`session "${row.name}" has a "me" without an id`);
  }
  if (row.presence !== null && row.presence !== 'online' && row.presence !== 'offline') {
    throw new StorageCorruptError(`session "${row.name}" has presence "${row.presence}"`);
  }
  return {
    name: row.name,
    engine: engine satisfies EngineName,
    // The config was validated by the HTTP layer before it was stored; storage keeps it verbatim.
    config: row.config satisfies SessionConfig,
    running: row.running,
    me: row.me as Me | null,
    presence: row.presence,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export function decodePresenceStatus(value: string, where: string): PresenceStatus {
  if (!isPresenceStatus(value)) throw new StorageCorruptError(`${where} has presence "${value}"`);
  return value;
}

export function decodeSessionStatus(value: string, where: string): SessionStatus {
  const status = SESSION_STATUSES.find((known) => known === value);
  if (status === undefined) throw new StorageCorruptError(`${where} has session status "${value}"`);
  return status;
}

/** PostgreSQL `bigint` columns arrive as strings (node-postgres keeps 64-bit precision). */
export function toSafeNumber(value: string | number, where: string): number {
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(number)) throw new StorageCorruptError(`${where} is not a safe integer: ${String(value)}`);
  return number;
}

/** Rows ordered by chat id become one ChatPresence per chat, in that order. */
export function groupByChat<Row extends { readonly chat_id: string }>(
  rows: readonly Row[],
  toParticipant: (row: Row) => ParticipantPresence,
): ChatPresence[] {
  const chats: { id: string; presences: ParticipantPresence[] }[] = [];
  for (const row of rows) {
    const last = chats.at(-1);
    if (last !== undefined && last.id === row.chat_id) last.presences.push(toParticipant(row));
    else chats.push({ id: row.chat_id, presences: [toParticipant(row)] });
  }
  return chats;
}
