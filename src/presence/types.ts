import type { PresenceStatus } from './status.js';

/** One participant's presence in a chat, exactly WAHA's JSON shape. */
export interface ParticipantPresence {
  /** `<digits>@c.us` or `<id>@lid` of the person. For a direct chat it equals the chat id. */
  readonly participant: string;
  readonly lastKnownPresence: PresenceStatus;
  /** Unix seconds when the participant was last online; null when unknown or hidden ("deny"). */
  readonly lastSeen: number | null;
  /**
   * Ours, not WAHA's: present (true) when the last `offline` WhatsApp sent said the person hides
   * their last seen (`last="deny"`), so a client can tell "hidden" from "never heard". Absent
   * otherwise, so WAHA's shape is unchanged for everyone else.
   */
  readonly lastSeenHidden?: true;
}

/** Presence of one chat: a contact (one entry) or a group (one entry per participant seen). */
export interface ChatPresence {
  /** Normalised chat id: `<digits>@c.us`, `<id>@g.us` or `<id>@lid`. */
  readonly id: string;
  readonly presences: readonly ParticipantPresence[];
}
