/** Presence values of WAHA's `WAHAPresenceStatus` enum, in the order WAHA documents them. */
export const PRESENCE_STATUSES = ['online', 'offline', 'typing', 'recording', 'paused'] as const;
export type PresenceStatus = (typeof PRESENCE_STATUSES)[number];

/** Presences that apply to the whole account: they take no chatId. */
export const GLOBAL_PRESENCES = ['online', 'offline'] as const;
export type GlobalPresence = (typeof GLOBAL_PRESENCES)[number];

/** Presences that apply to one chat (chat states): they require a chatId. */
export const CHAT_PRESENCES = ['typing', 'recording', 'paused'] as const;
export type ChatPresenceStatus = (typeof CHAT_PRESENCES)[number];

export function isPresenceStatus(value: unknown): value is PresenceStatus {
  return typeof value === 'string' && (PRESENCE_STATUSES as readonly string[]).includes(value);
}

export function isGlobalPresence(value: PresenceStatus): value is GlobalPresence {
  return (GLOBAL_PRESENCES as readonly string[]).includes(value);
}

export function isChatPresence(value: PresenceStatus): value is ChatPresenceStatus {
  return (CHAT_PRESENCES as readonly string[]).includes(value);
}

/** Session statuses, as WAHA names them. */
export const SESSION_STATUSES = ['STOPPED', 'STARTING', 'SCAN_QR_CODE', 'WORKING', 'FAILED'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];
