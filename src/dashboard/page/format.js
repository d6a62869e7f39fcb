// @ts-check
/** Words and numbers as a person reads them. */

/**
 * "just now", "42 s ago", "3 min ago", "2 h ago", "4 d ago".
 * @param {number} ms epoch milliseconds
 * @param {number} now
 */
export function ago(ms, now) {
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 5) return 'just now';
  return `${duration(seconds)} ago`;
}

/** @param {number} seconds */
export function duration(seconds) {
  // History intervals are measured to the millisecond; a person reads whole seconds.
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
}

/** @param {number} ms */
export function clock(ms) {
  return new Date(ms).toLocaleString();
}

/** @param {number} ms */
export function time(ms) {
  return new Date(ms).toLocaleTimeString();
}

/** "4915550001@c.us" → "+4915550001"; groups keep their id. @param {string} id */
export function shortId(id) {
  const at = id.indexOf('@');
  if (at < 0) return id;
  const user = id.slice(0, at);
  return id.endsWith('@c.us') || id.endsWith('@s.whatsapp.net') ? `+${user}` : id;
}
