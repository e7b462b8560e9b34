import { describeError } from '../errors.js';

/** How a post ended. Its error never holds the URL (it carries the webhook's secret). */
export interface WebhookOutcome {
  readonly ok: boolean;
  /** The last response's HTTP status (null: no response). */
  readonly status: number | null;
  readonly attempts: number;
  readonly durationMs: number;
  readonly error?: string;
}

/** What is posted: Slack's incoming webhook reads `text` and ignores the rest; the raw event or alert rides along. */
export interface WebhookBody {
  readonly text: string;
  readonly event: unknown;
}

const MAX_TEXT = 500;
const RETRY_DELAY_MS = 1000;

const field = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined);
const record = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
/** Slack reads &, < and > as markup (links, mentions): a worker's message shows as written. */
const escapeSlack = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * One line for people: what happened, to which worker and task, and why. Takes an activity event
 * (`{event, worker_id, task_id, data}`) or an alert as the alert hook gets it (`{type, severity, message}`).
 */
export function summarizeNotification(payload: unknown): string {
  const p = record(payload);
  const data = record(p.data);
  const parts: string[] = [];
  const event = field(p.event);
  if (event !== undefined) {
    const alertType = event.startsWith('alert_') ? field(data.type) : undefined;
    parts.push(alertType === undefined ? event : `${event} ${alertType}`);
  } else {
    // An alert (the alert hook's stdin).
    parts.push(`alert ${field(p.change) ?? field(p.status) ?? ''} ${field(p.type) ?? 'unknown'}`.replace(/\s+/g, ' '));
  }
  const worker = field(p.worker_id);
  if (worker !== undefined) parts.push(`worker ${worker}`);
  const task = field(p.task_id);
  if (task !== undefined) parts.push(`task ${task}`);
  const scope = field(data.scope);
  if (scope !== undefined) parts.push(`scope ${scope}`);
  const reason = field(data.reason) ?? field(data.error) ?? field(data.message) ?? field(data.stop_reason) ?? field(p.message);
  if (reason !== undefined) parts.push(`reason: ${reason}`);
  const line = `commit-relay: ${parts.join(' · ')}`.replace(/\s*\n\s*/g, ' ');
  return escapeSlack(line.length > MAX_TEXT ? `${line.slice(0, MAX_TEXT - 1)}…` : line);
}

export const webhookBody = (payload: unknown): WebhookBody => ({ text: summarizeNotification(payload), event: payload });

/** A fetch error in words, with the URL (and its path, where the secret usually is) taken out. */
function scrub(message: string, url: string): string {
  let text = message.split(url).join('<webhook url>');
  try {
    const { pathname, search } = new URL(url);
    const secret = `${pathname}${search}`;
    if (secret.length > 1) text = text.split(secret).join('<path>');
  } catch {
    /* a URL that does not parse is not in the message either */
  }
  return text;
}

async function postOnce(url: string, body: string, timeoutMs: number): Promise<{ status: number | null; error?: string; retry: boolean }> {
  try {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(timeoutMs) });
    // The body is read and thrown away so the connection is released.
    await response.arrayBuffer().catch(() => undefined);
    if (response.ok) return { status: response.status, retry: false };
    return { status: response.status, error: `the webhook answered HTTP ${response.status}`, retry: response.status === 429 || response.status >= 500 };
  } catch (error) {
    const cause = error instanceof Error && error.cause !== undefined ? `: ${describeError(error.cause)}` : '';
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    return { status: null, error: timedOut ? `the webhook did not answer within ${timeoutMs} ms` : scrub(`the webhook post failed: ${describeError(error)}${cause}`, url), retry: true };
  }
}

/**
 * POSTs the payload's Slack-compatible body (Node's fetch, no shell), each attempt bounded by timeoutMs.
 * One retry, a second later, after a network failure, a 429 or a 5xx; never more, so a webhook that is down
 * costs at most two attempts per notification. Never throws.
 */
export async function postWebhook(url: string, payload: unknown, timeoutMs: number, retryDelayMs = RETRY_DELAY_MS): Promise<WebhookOutcome> {
  const started = performance.now();
  const body = JSON.stringify(webhookBody(payload));
  let attempt = await postOnce(url, body, timeoutMs);
  let attempts = 1;
  if (attempt.error !== undefined && attempt.retry) {
    await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
    attempt = await postOnce(url, body, timeoutMs);
    attempts = 2;
  }
  const durationMs = Math.round(performance.now() - started);
  return attempt.error === undefined ? { ok: true, status: attempt.status, attempts, durationMs } : { ok: false, status: attempt.status, attempts, durationMs, error: attempt.error };
}
