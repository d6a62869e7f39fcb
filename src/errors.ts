/**
 * Every error the server reports to a client, by code. The HTTP status of each code lives in one
 * place, `src/http/errors.ts`; nothing outside `src/http` knows about HTTP.
 */
export const ERROR_CODES = [
  'VALIDATION_FAILED',
  'INVALID_CHAT_ID',
  'INVALID_PRESENCE',
  'UNAUTHORIZED',
  'SESSION_NOT_FOUND',
  'SESSION_EXISTS',
  'SESSION_NOT_WORKING',
  'SESSION_NOT_STOPPED',
  'QR_NOT_AVAILABLE',
  'PAIRING_NOT_AVAILABLE',
  'PUSH_NAME_MISSING',
  'ENGINE_FAILED',
  'NOT_FOUND',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'STORAGE_FULL',
  'SESSION_OWNED_ELSEWHERE',
  'SANDBOX_NOT_FOUND',
  'SANDBOX_CONFLICT',
  'SANDBOX_REJECTED',
  'HISTORY_DISABLED',
  'INVALID_HISTORY_RANGE',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error meant for the client: a stable code, a message that says what to fix, optional details. */
export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
