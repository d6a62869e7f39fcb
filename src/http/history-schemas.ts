import { Type } from '@fastify/type-provider-typebox';
import { PresenceStatusSchema } from './schemas.js';

/** Longest range of a JSON history answer (it is built in memory), seconds. */
export const HISTORY_MAX_JSON_RANGE_S = 31 * 86_400;
/** Longest range of an export (streamed), seconds: a year and a day, beyond the longest retention. */
export const HISTORY_MAX_EXPORT_RANGE_S = 366 * 86_400;
/** Largest `gap` (merge intervals separated by less), seconds. */
export const HISTORY_MAX_MERGE_GAP_S = 86_400;

const UNIX_S = 'Unix seconds';
const AT = 'Unix seconds; a fraction carries milliseconds';

export const HistoryQuerySchema = Type.Object(
  {
    from: Type.Optional(Type.Integer({ minimum: 0, description: `${UNIX_S}; default: \`to\` minus 24 hours` })),
    to: Type.Optional(Type.Integer({ minimum: 0, description: `${UNIX_S}; default: now` })),
    participant: Type.Optional(Type.String({ description: 'Only this participant of a group (`<digits>@c.us` or `<digits>@lid`)' })),
    gap: Type.Optional(Type.Integer({ minimum: 0, maximum: HISTORY_MAX_MERGE_GAP_S, description: 'Merge online intervals separated by less than this many seconds (trackers use 180–900)' })),
  },
  { additionalProperties: false },
);

export const SessionHistoryQuerySchema = Type.Object(
  {
    from: Type.Optional(Type.Integer({ minimum: 0, description: `${UNIX_S}; default: \`to\` minus 24 hours` })),
    to: Type.Optional(Type.Integer({ minimum: 0, description: `${UNIX_S}; default: now` })),
    gap: Type.Optional(Type.Integer({ minimum: 0, maximum: HISTORY_MAX_MERGE_GAP_S })),
  },
  { additionalProperties: false },
);

const ChangeSchema = Type.Object({
  presence: PresenceStatusSchema,
  at: Type.Number({ description: `When we learned it: ${AT}` }),
  lastSeen: Type.Union([Type.Integer(), Type.Null()], { description: 'WhatsApp\'s last seen (Unix seconds); null when hidden or unknown' }),
});

const IntervalSchema = Type.Object({
  from: Type.Number({ description: AT }),
  to: Type.Number({ description: AT }),
  seconds: Type.Number(),
  open: Type.Boolean({ description: 'Still online at `to` of the range' }),
});

const GapSchema = Type.Object({ from: Type.Number({ description: AT }), to: Type.Number({ description: AT }) }, { description: 'A time the session could not hear (not WORKING, server down), clipped to the range' });

export const ChatHistorySchema = Type.Object({
  id: Type.String(),
  from: Type.Integer(),
  to: Type.Integer(),
  participants: Type.Array(
    Type.Object({
      participant: Type.String(),
      changes: Type.Array(ChangeSchema),
      online: Type.Array(IntervalSchema),
      onlineSeconds: Type.Number(),
      gaps: Type.Array(GapSchema),
    }),
  ),
});

export const HistorySummarySchema = Type.Object({
  from: Type.Integer(),
  to: Type.Integer(),
  summaries: Type.Array(
    Type.Object({
      chatId: Type.String(),
      participant: Type.String(),
      onlineSeconds: Type.Number(),
      intervals: Type.Integer(),
      firstOnline: Type.Union([Type.Number(), Type.Null()]),
      lastOnline: Type.Union([Type.Number(), Type.Null()]),
    }),
  ),
});

export const DeleteChatHistorySchema = Type.Object({ chatId: Type.String(), deleted: Type.Integer({ description: 'Changes removed' }) });
export const DeleteSessionHistorySchema = Type.Object({ session: Type.String(), deleted: Type.Literal(true) });
