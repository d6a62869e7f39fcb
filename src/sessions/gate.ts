/**
 * A first-come-first-served semaphore with places that can be given up at any time. Engine starts
 * go through one (`WA_PRESENCE_START_CONCURRENCY`): each start costs 50–200 ms of CPU on the one
 * event loop, and hundreds at once (a server resuming its sessions, or taking over a dead server's)
 * delay it past what Baileys' keep-alive tolerates, so connections drop and reconnect in a storm.
 */
export interface Gate {
  /**
   * Takes a place: the slot at once when one is free and nobody waits (nobody is overtaken), else
   * a place in the queue. `onExpired` runs when the slot is freed by `holdMs` running out.
   */
  join(onExpired?: () => void): Turn;
  /** Slots held now. */
  readonly holding: number;
  /** Places waiting for a slot now. */
  readonly waiting: number;
}

export interface Turn {
  /** Whether this place holds a slot right now. */
  readonly holding: boolean;
  /** Resolves with true when the slot becomes this place's, or false when it was left first. Never rejects. */
  readonly ready: Promise<boolean>;
  /** Leaves the queue, or frees the slot. Idempotent. */
  leave(): void;
}

export interface GateOptions {
  /** Slots held at once; `Infinity` never makes anyone wait. */
  readonly slots: number;
  /** A slot held this long is freed whatever its holder does, so that a holder that hangs does not block the queue. */
  readonly holdMs: number;
}

export function createGate(options: GateOptions): Gate {
  const { slots, holdMs } = options;
  if (!(slots >= 1)) throw new RangeError(`a gate needs at least one slot, got ${slots}`);
  let holding = 0;
  /** Grant functions of the waiting places, in the order they joined (a Set keeps insertion order). */
  const queue = new Set<() => void>();

  function grantNext(): void {
    while (holding < slots) {
      const next = queue.values().next();
      if (next.done === true) return;
      queue.delete(next.value);
      next.value();
    }
  }

  return {
    join(onExpired) {
      let state: 'waiting' | 'holding' | 'left' = 'waiting';
      let timer: NodeJS.Timeout | undefined;
      let settle: (mine: boolean) => void = () => undefined;
      const ready = new Promise<boolean>((resolve) => {
        settle = resolve;
      });
      const free = (): void => {
        clearTimeout(timer);
        holding -= 1;
        grantNext();
      };
      const grant = (): void => {
        state = 'holding';
        holding += 1;
        timer = setTimeout(() => {
          if (state !== 'holding') return;
          state = 'left';
          free();
          onExpired?.();
        }, holdMs);
        // A start that hangs must not keep a server that is shutting down alive.
        timer.unref();
        settle(true);
      };
      const turn: Turn = {
        get holding() {
          return state === 'holding';
        },
        ready,
        leave() {
          const was = state;
          state = 'left';
          if (was === 'waiting') {
            queue.delete(grant);
            settle(false);
          } else if (was === 'holding') {
            free();
          }
        },
      };
      if (holding < slots && queue.size === 0) grant();
      else queue.add(grant);
      return turn;
    },
    get holding() {
      return holding;
    },
    get waiting() {
      return queue.size;
    },
  };
}
