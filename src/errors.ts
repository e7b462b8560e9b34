/** Every error the system raises on purpose carries one of these codes; the CLI maps them to exit codes. */
export type ErrorCode =
  | 'USAGE'
  | 'INVALID_ID'
  | 'INVALID_INPUT'
  | 'SPEC_INVALID'
  | 'SPEC_NOT_FOUND'
  | 'CONFIG_INVALID'
  | 'FILE_INVALID'
  | 'HOME_UNUSABLE'
  | 'LOCK_HELD'
  | 'SPAWN_FAILED'
  | 'ALREADY_RUNNING'
  | 'NOT_A_ZOMBIE'
  | 'WRONG_STATE'
  | 'DAEMON_RUNNING'
  | 'DAEMON_NOT_RUNNING'
  | 'IO_FAILED'
  | 'REDIS_UNAVAILABLE';

export class RelayError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RelayError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

/**
 * A value shown in an error message: JSON-quoted, with U+2028 and U+2029 escaped too (JSON.stringify
 * leaves them raw, and a terminal or log reader breaks the line there), so a message stays one line.
 */
export const quote = (value: string): string => JSON.stringify(value).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);

export const isRelayError = (error: unknown): error is RelayError => error instanceof RelayError;

/** Exit codes: 2 for input a person can fix, 3 for state (conflict, not found), 1 for the rest. */
export function exitCodeFor(error: unknown): number {
  if (!isRelayError(error)) return 1;
  switch (error.code) {
    case 'USAGE':
    case 'INVALID_ID':
    case 'INVALID_INPUT':
    case 'SPEC_INVALID':
    case 'CONFIG_INVALID':
    case 'FILE_INVALID':
      return 2;
    case 'SPEC_NOT_FOUND':
    case 'ALREADY_RUNNING':
    case 'NOT_A_ZOMBIE':
    case 'WRONG_STATE':
    case 'DAEMON_RUNNING':
    case 'DAEMON_NOT_RUNNING':
    case 'LOCK_HELD':
      return 3;
    default:
      return 1;
  }
}

/** The system error code (ENOENT, ENOSPC, ...) of an fs error, if it has one. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const { code } = error as { code: unknown };
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
