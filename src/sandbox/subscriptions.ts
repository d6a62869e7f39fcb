import type { Peer, Subscriptions } from './state.js';

/**
 * The subscription index (see `Subscriptions` in state.ts): each peer's own map and, kept in step
 * with it, the peers subscribed to each target, so a presence change reaches its subscribers without
 * a scan of every connection (which made each of N logins cost O(N)).
 */
export function createSubscriptions(): Subscriptions {
  const byTarget = new Map<string, Set<Peer>>();
  const unlink = (peer: Peer, target: string): void => {
    const set = byTarget.get(target);
    if (set === undefined) return;
    set.delete(peer);
    // Targets nobody watches any more go, so the index does not grow with every account ever watched.
    if (set.size === 0) byTarget.delete(target);
  };
  return {
    add(peer, target, form) {
      peer.subscriptions.set(target, form);
      let set = byTarget.get(target);
      if (set === undefined) byTarget.set(target, (set = new Set()));
      set.add(peer);
    },
    remove(peer, target) {
      peer.subscriptions.delete(target);
      unlink(peer, target);
    },
    removeAll(peer) {
      for (const target of peer.subscriptions.keys()) unlink(peer, target);
      peer.subscriptions.clear();
    },
    subscribersOf(target) {
      return byTarget.get(target) ?? [];
    },
  };
}
