import { closeSync, constants as fsConstants, existsSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { assertValidId } from '../contract/ids.js';
import { RelayError, describeError } from '../errors.js';
import type { HomePaths } from '../store/home.js';

/**
 * Writing a check-in. Runs inside every agent, often, so this module (and src/bin/checkin.ts) loads
 * nothing but node built-ins and the zod-free ids/errors/home modules: no zod, yargs or pino.
 */

/** Must equal CHECKIN_STATUSES of src/contract/checkin.ts (a test holds them equal; importing it would load zod). */
export const CHECKIN_STATUS_VALUES = ['starting', 'in_progress', 'blocked', 'rate_limited', 'completed', 'failed'] as const;
export type CheckinStatusValue = (typeof CHECKIN_STATUS_VALUES)[number];

export interface CheckinInput {
  /** --worker-id, if given. */
  readonly workerId?: string | undefined;
  readonly status?: string | undefined;
  /** --progress as typed (a string from argv) or a number. */
  readonly progress?: string | number | undefined;
  readonly message?: string | undefined;
  /** --session-id: the agent's session, kept for a resume. */
  readonly sessionId?: string | undefined;
  /** --retry-at: with status rate_limited, when the limit resets (ISO-8601). */
  readonly retryAt?: string | undefined;
}

export interface CheckinRecord {
  readonly worker_id: string;
  readonly timestamp: string;
  readonly status: CheckinStatusValue;
  readonly progress_pct: number;
  readonly message: string | null;
  readonly run_id: string | null;
  readonly session_id?: string;
  readonly retry_at?: string;
}

const MAX_MESSAGE = 4000;
const MAX_SESSION_ID = 200;
/** An ISO-8601 date and time with a zone, as the contract's timestamps (the zod schema checks the same). */
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function parseProgress(raw: string | number): number {
  const value = typeof raw === 'number' ? raw : raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 100) {
    throw new RelayError('USAGE', `--progress must be a number from 0 to 100, got \`${String(raw)}\``);
  }
  return value;
}

/**
 * The worker's previous check-in, for what a bare update keeps: its progress, and the session it named when it
 * was of the same run (the daemon may read only the latest check-in, so a session must not vanish from it).
 */
function previousCheckin(file: string): { progress?: number; runId?: string; sessionId?: string } {
  let fd: number | undefined;
  try {
    // Only a small regular file: a planted link is not followed, a FIFO or device never blocks the read.
    fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > 64 * 1024) return {};
    const previous = JSON.parse(readFileSync(fd, 'utf8')) as { progress_pct?: unknown; run_id?: unknown; session_id?: unknown };
    const value = previous.progress_pct;
    return {
      ...(typeof value === 'number' && value >= 0 && value <= 100 ? { progress: value } : {}),
      ...(typeof previous.run_id === 'string' ? { runId: previous.run_id } : {}),
      ...(typeof previous.session_id === 'string' && previous.session_id !== '' ? { sessionId: previous.session_id } : {}),
    };
  } catch {
    return {};
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Validates a check-in and writes coordination/worker-checkins/<id>.json atomically (temp file in the same
 * folder, then rename). Refuses, writing nothing: an invalid id, an id with no spec in active/, a
 * --worker-id other than the caller's own WORKER_ID, an unknown status, a progress outside 0..100.
 */
export function writeCheckin(paths: HomePaths, input: CheckinInput, env: NodeJS.ProcessEnv, now: number = Date.now()): CheckinRecord {
  const ownId = env.WORKER_ID !== undefined && env.WORKER_ID !== '' ? env.WORKER_ID : undefined;
  const workerId = input.workerId ?? ownId;
  if (workerId === undefined) throw new RelayError('USAGE', 'name the worker: --worker-id ID, or run inside a worker (WORKER_ID is set there)');
  assertValidId(workerId, 'worker');
  // A worker may check in only for itself.
  if (ownId !== undefined && workerId !== ownId) {
    throw new RelayError('INVALID_INPUT', `--worker-id "${workerId}" is not this worker (WORKER_ID is "${ownId}"): a worker checks in only for itself`);
  }
  const status = input.status ?? 'in_progress';
  if (!(CHECKIN_STATUS_VALUES as readonly string[]).includes(status)) {
    throw new RelayError('USAGE', `unknown --status "${status}": use one of ${CHECKIN_STATUS_VALUES.join(', ')}`);
  }
  const progressFromFlag = input.progress === undefined ? undefined : parseProgress(input.progress);
  const message = input.message ?? null;
  if (message !== null && message.length > MAX_MESSAGE) throw new RelayError('USAGE', `--message is ${message.length} characters long (at most ${MAX_MESSAGE})`);
  if (!existsSync(paths.specFile('active', workerId))) {
    throw new RelayError('SPEC_NOT_FOUND', `no worker "${workerId}" in ${paths.specDir('active')}`);
  }
  const sessionId = input.sessionId;
  if (sessionId !== undefined && (sessionId === '' || sessionId.length > MAX_SESSION_ID || [...sessionId].some((c) => c < ' '))) {
    throw new RelayError('USAGE', `--session-id must be 1 to ${MAX_SESSION_ID} printable characters`);
  }
  const retryAt = input.retryAt;
  if (retryAt !== undefined) {
    if (status !== 'rate_limited') throw new RelayError('USAGE', '--retry-at goes with --status rate_limited');
    if (!ISO_WITH_ZONE.test(retryAt) || Number.isNaN(Date.parse(retryAt))) throw new RelayError('USAGE', `--retry-at must be an ISO-8601 time with a zone (2026-11-30T12:00:00Z), got \`${retryAt}\``);
  }
  const file = paths.checkinFile(workerId);
  const previous = previousCheckin(file);
  const progress = progressFromFlag ?? (status === 'completed' ? 100 : (previous.progress ?? 0));
  const runId = env.COMMIT_RELAY_RUN_ID !== undefined && env.COMMIT_RELAY_RUN_ID !== '' ? env.COMMIT_RELAY_RUN_ID : null;
  const session = sessionId ?? (runId !== null && previous.runId === runId ? previous.sessionId : undefined);
  const record: CheckinRecord = {
    worker_id: workerId,
    timestamp: new Date(now).toISOString(),
    status: status as CheckinStatusValue,
    progress_pct: progress,
    message,
    run_id: runId,
    ...(session !== undefined ? { session_id: session } : {}),
    ...(retryAt !== undefined ? { retry_at: new Date(retryAt).toISOString() } : {}),
  };
  // Not ending in .json: readers listing the folder never see the temp file. The pid makes it unique
  // among live writers; node:crypto is not loaded for a random suffix (it costs start-up time).
  const temp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    mkdirSync(paths.checkins, { recursive: true });
    writeFileSync(temp, `${JSON.stringify(record)}\n`, { mode: 0o644 });
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw new RelayError('IO_FAILED', `cannot write ${file}: ${describeError(error)}`, { cause: error });
  }
  return record;
}
