/** A live server and how many sessions it holds (live leases). */
export interface ServerLoad {
  readonly id: string;
  readonly url: string;
  readonly sessions: number;
}

/**
 * Where a new or started session should run: the live server with the fewest sessions among those
 * with room (`capacity`, the same `WA_PRESENCE_MAX_SESSIONS` for every server). On a tie the
 * receiving server (`self`) wins, which saves a forwarding hop, then the lowest id, so that every
 * server picks the same one. Null when none has room.
 */
export function leastLoaded(servers: readonly ServerLoad[], capacity: number, self: string): ServerLoad | null {
  let best: ServerLoad | null = null;
  for (const server of servers) {
    if (server.sessions >= capacity) continue;
    if (best === null || server.sessions < best.sessions || (server.sessions === best.sessions && better(server, best, self))) best = server;
  }
  return best;
}

function better(a: ServerLoad, b: ServerLoad, self: string): boolean {
  if (a.id === self) return true;
  if (b.id === self) return false;
  return a.id < b.id;
}

/** Sessions held per live server: leases that have not expired, counted by owner. */
export function loadsOf(
  servers: readonly { readonly id: string; readonly url: string }[],
  leases: readonly { readonly owner: string; readonly expiresAt: number }[],
  now: number,
): ServerLoad[] {
  const held = new Map<string, number>();
  for (const lease of leases) {
    if (lease.expiresAt <= now) continue;
    held.set(lease.owner, (held.get(lease.owner) ?? 0) + 1);
  }
  return servers.map((server) => ({ id: server.id, url: server.url, sessions: held.get(server.id) ?? 0 }));
}
