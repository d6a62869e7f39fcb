import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { Account, Group, LastSeenPrivacy } from './state.js';
import { LAST_SEEN_PRIVACIES } from './state.js';

/**
 * The sandbox's world on disk, so that it outlives the process as WhatsApp's network outlives a
 * client: accounts (with their identity keys and linked devices), groups, privacy, presence and
 * last seen, removed devices, and the counters that hand out numbers. Live connections, pending
 * pairings and what simulated contacts received (a bounded log for tests) are not kept.
 *
 * One JSON file, replaced atomically: written to a temporary file, fsynced, renamed over the old
 * one, and the directory fsynced, so a crash leaves the old world or the new one, never half of one.
 */

export const WORLD_FILE = 'sandbox-world.json';
const VERSION = 1;

interface DeviceRecord { id: number; noiseKey: string; identityKey: string | null; preKeyCount: number; pairedAt: number }
interface AccountRecord {
  phone: string;
  lid: string;
  kind: 'user' | 'contact';
  name: string;
  lastSeenPrivacy: LastSeenPrivacy;
  identity: { public: string; private: string };
  devices: DeviceRecord[];
  nextDeviceId: number;
  online: boolean;
  lastSeen: number | null;
  banned: boolean;
  createdAt: number;
}

export interface WorldSnapshot {
  readonly version: typeof VERSION;
  /** Milliseconds since the epoch. */
  readonly savedAt: number;
  readonly counters: { readonly phone: number; readonly lid: number; readonly group: number };
  readonly accounts: readonly AccountRecord[];
  readonly groups: readonly Group[];
  readonly revokedNoiseKeys: readonly string[];
}

/** What the network keeps, in the form it keeps it. */
export interface World {
  readonly accounts: Iterable<Account>;
  readonly groups: Iterable<Group>;
  readonly revokedNoiseKeys: Iterable<string>;
  readonly counters: { readonly phone: number; readonly lid: number; readonly group: number };
}

const b64 = (buffer: Buffer | Uint8Array): string => Buffer.from(buffer).toString('base64');
const unb64 = (text: string): Buffer => Buffer.from(text, 'base64');

export function toSnapshot(world: World, savedAt: number): WorldSnapshot {
  return {
    version: VERSION,
    savedAt,
    counters: { ...world.counters },
    accounts: [...world.accounts].map((account) => ({
      phone: account.phone,
      lid: account.lid,
      kind: account.kind,
      name: account.name,
      lastSeenPrivacy: account.lastSeenPrivacy,
      identity: { public: b64(account.identity.public), private: b64(account.identity.private) },
      devices: [...account.devices.values()].map((device) => ({
        id: device.id,
        noiseKey: b64(device.noiseKey),
        identityKey: device.identityKey === null ? null : b64(device.identityKey),
        preKeyCount: device.preKeyCount,
        pairedAt: device.pairedAt,
      })),
      nextDeviceId: account.nextDeviceId,
      online: account.online,
      lastSeen: account.lastSeen,
      banned: account.banned,
      createdAt: account.createdAt,
    })),
    groups: [...world.groups].map((group) => ({ ...group, participants: [...group.participants] })),
    revokedNoiseKeys: [...world.revokedNoiseKeys],
  };
}

/**
 * The accounts of a snapshot. A device account is loaded offline: its connections died with the
 * process, so one that was online when the world was saved was last seen then. Simulated contacts
 * keep their presence, which only the admin API changes.
 */
export function accountsOf(snapshot: WorldSnapshot): Account[] {
  return snapshot.accounts.map((record) => {
    const wasOnline = record.kind === 'user' && record.online;
    return {
      phone: record.phone,
      lid: record.lid,
      kind: record.kind,
      name: record.name,
      lastSeenPrivacy: record.lastSeenPrivacy,
      identity: { public: unb64(record.identity.public), private: unb64(record.identity.private) },
      devices: new Map(record.devices.map((device) => [device.id, {
        id: device.id,
        noiseKey: unb64(device.noiseKey),
        identityKey: device.identityKey === null ? null : unb64(device.identityKey),
        preKeyCount: device.preKeyCount,
        pairedAt: device.pairedAt,
      }])),
      nextDeviceId: record.nextDeviceId,
      online: record.kind === 'contact' && record.online,
      lastSeen: wasOnline ? Math.floor(snapshot.savedAt / 1000) : record.lastSeen,
      banned: record.banned,
      received: [],
      createdAt: record.createdAt,
    };
  });
}

/** Reads the world saved in `file`; null if there is none yet. A damaged file is an error naming it. */
export function readWorld(file: string): WorldSnapshot | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read the sandbox world from ${file}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`the sandbox world in ${file} is not valid JSON; move it away to start an empty sandbox`, { cause: error });
  }
  const snapshot = parsed as Partial<WorldSnapshot> | null;
  if (snapshot?.version !== VERSION || !Array.isArray(snapshot.accounts) || !Array.isArray(snapshot.groups) || !Array.isArray(snapshot.revokedNoiseKeys) || typeof snapshot.counters !== 'object') {
    throw new Error(`the sandbox world in ${file} is not a version ${VERSION} world file; move it away to start an empty sandbox`);
  }
  for (const account of snapshot.accounts as readonly Partial<AccountRecord>[]) {
    if (account.lastSeenPrivacy === undefined || !LAST_SEEN_PRIVACIES.includes(account.lastSeenPrivacy)) throw new Error(`the sandbox world in ${file} has an account with an unknown lastSeenPrivacy`);
  }
  return snapshot as WorldSnapshot;
}

/** Replaces `file` with `snapshot` atomically and durably (temp file, fsync, rename, fsync of the directory). */
export function writeWorld(file: string, snapshot: WorldSnapshot): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  const temp = join(dir, `.${WORLD_FILE}.${process.pid}.tmp`);
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(snapshot));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

export interface WorldSaver {
  /** Saves now, before the caller answers (admin calls: a 2xx means it is on disk). */
  now(): void;
  /** Saves within `delayMs`, coalescing every change until then into one write (presence, logins). */
  soon(): void;
  /** Writes a pending save now and stops the timer (shutdown). */
  close(): void;
}

export function createWorldSaver(options: { file: string; snapshot: () => WorldSnapshot; delayMs: number; logger: Logger }): WorldSaver {
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  const save = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    writeWorld(options.file, options.snapshot());
  };
  return {
    now: save,
    soon() {
      if (timer !== null || closed) return;
      timer = setTimeout(() => {
        timer = null;
        try {
          save();
        } catch (error) {
          options.logger.error({ err: error, file: options.file }, 'failed to save the sandbox world; the next change tries again');
        }
      }, options.delayMs);
      timer.unref();
    },
    close() {
      closed = true;
      if (timer !== null) save();
    },
  };
}
