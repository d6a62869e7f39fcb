/**
 * The WAHA operations wa-presence does not serve, in one place, each with the reason. A WAHA
 * operation is either in `IMPLEMENTED` (operations.test.ts) or matched here; the suite fails on one
 * that is neither (a new WAHA release), and on one listed here that we serve after all.
 */
export const NOT_IMPLEMENTED: readonly { readonly match: RegExp; readonly reason: string }[] = [
  { match: /^POST \/api\/sessions\/(start|stop|logout)$/, reason: "WAHA's deprecated session routes with the name in the body; use /api/sessions/{session}/start|stop|logout" },
  { match: /^(GET|POST) \/api\/\{session\}\/auth\/passkey/, reason: 'Passkey login exists only in WAHA\'s browser engines; NOWEB links by QR or pairing code' },
  { match: /^GET \/api\/screenshot$/, reason: 'NOWEB runs no browser: there is nothing to take a screenshot of' },
  { match: / \/api\/\{session\}\/profile/, reason: 'Profile (name, status, picture) is not presence: out of scope for a presence server' },
  { match: /^(GET|POST) \/api\/(\{session\}\/)?(send\w*|reply|forwardMessage|star|see|reaction|poll|messages|checkNumberStatus|contacts|new-message-id)(?=$|\/)/, reason: 'Messaging (sending, reading, reacting): wa-presence keeps no messages' },
  { match: / \/api\/\{session\}\/chats/, reason: 'Chats and their messages: wa-presence keeps no messages or chat lists' },
  { match: / \/api\/\{session\}\/calls/, reason: 'Calls: not presence' },
  { match: / \/api\/\{session\}\/channels/, reason: 'Channels (newsletters): not presence' },
  { match: / \/api\/\{session\}\/status\//, reason: 'Status (stories) posting: not presence' },
  { match: / \/api\/\{session\}\/labels/, reason: 'Labels (WhatsApp Business): not presence' },
  { match: / \/api\/\{session\}\/(contacts|lids)/, reason: 'Contacts and LID mapping lookups: not exposed; presence answers use the ids WhatsApp reports' },
  { match: / \/api\/\{session\}\/groups/, reason: 'Group management: not presence (group presence works through /presence with a @g.us id)' },
  { match: /^POST \/api\/\{session\}\/events$/, reason: 'Event (calendar) messages: messaging' },
  { match: / \/api\/\{session\}\/media/, reason: 'Media conversion: messaging' },
  { match: /^GET \/api\/server\/environment$/, reason: 'Dumps WAHA\'s environment variables; wa-presence shows its configuration nowhere over HTTP (secrets)' },
  { match: /^POST \/api\/server\/stop$/, reason: 'Stopping the server over HTTP: run it under a supervisor and stop it there' },
  { match: /^GET \/api\/server\/debug\//, reason: 'WAHA\'s CPU profile, heap snapshot and browser trace: use Node\'s own --inspect' },
  { match: /^(GET|POST|PUT|DELETE) \/api\/apps/, reason: "WAHA's apps (ChatWoot, calls, MCP): wa-presence runs none" },
  { match: /^POST \/mcp$/, reason: "WAHA's MCP server for AI agents: not served" },
  { match: / \/api\/keys/, reason: 'Several API keys: wa-presence has one key (WHATSAPP_API_KEY)' },
  { match: / \/api\/(\{session\}\/)?(contacts|checkNumberStatus|sendContactVcard|sendButtons|sendList|sendLinkPreview|sendLinkCustomPreview|sendPoll|sendPollVote|sendLocation|sendVoice|sendVideo|sendFile|sendImage|sendText|sendSeen|sendEvent|reaction|star)(?=$|\/)/, reason: 'Messaging: wa-presence keeps no messages' },
];

export function notImplementedReason(operation: string): string | null {
  return NOT_IMPLEMENTED.find((entry) => entry.match.test(operation))?.reason ?? null;
}
