// Real daemons and the fake agent: a worker making tool calls is never stalled whatever its progress, a silent one
// is; a permission prompt makes a worker blocked (never stalled), raises workers_blocked and resolves it; past
// blocked_timeout_seconds a blocked worker is stopped and restarted as a stall is.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventsOf, pmState } from '../helpers/daemon.js';
import { coord, QUICK, readJson, run, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';
import { readSpecFile, uniqueId, writePendingSpec } from '../helpers/specs.js';
import { fakeClaude, runHook } from './support.js';

// A grace for the first check-in (a node start and a hook, slow on a loaded machine); then 1 s late, 2 s stalled.
const FAST = { ...QUICK, checkin_timeout_seconds: 1, stall_timeout_seconds: 2, startup_grace_seconds: 10, time_limit_seconds: 0 };
const DAEMON = { env: { PM_LOOP_INTERVAL: '0.2' } };
/** @param {string} home */
const alerts = (home) => {
  try {
    return /** @type {{ alerts: Record<string, any>[] }} */ (readJson(coord(home, 'health-alerts.json'))).alerts;
  } catch {
    return [];
  }
};
/** @param {string} home @param {string} id */
const healthOf = (home, id) => pmState(home).monitored_workers[id]?.health_state;

test('tool calls with an unchanging progress keep a worker alive; a silent agent is stalled', { timeout: 60_000 }, () => withHome({
  types: {
    // Wired as a real Claude Code worker is: --settings with what `commit-relay hooks claude-code` prints (the fast path).
    busy: { command: fakeClaude('-p', 'work', '--forever', '--tool-interval-ms', '200', '--settings', '{home}/claude-hooks.json'), ...FAST, max_restarts: 0 },
    silent: { command: fakeClaude('-p', 'work', '--tools', '0', '--hang'), ...FAST, max_restarts: 0 },
  },
}, async (t) => {
  const settings = await run(t.home, ['hooks', 'claude-code']);
  assert.equal(settings.code, 0, settings.stderr);
  writeFileSync(join(t.home, 'claude-hooks.json'), settings.stdout);
  const busy = uniqueId('busy');
  const silent = uniqueId('silent');
  writePendingSpec(t.home, busy, { workerType: 'busy' });
  writePendingSpec(t.home, silent, { workerType: 'silent' });
  await t.startDaemon(DAEMON);
  await waitFor(() => eventsOf(t.home, silent, 'worker_stalled').length > 0, { what: 'the silent agent to be stalled', timeoutMs: 20_000 });
  // The busy one has checked in at progress 0 for more than its stall timeout (2 s) by now, and more.
  const firstCheckin = Date.parse(defined(eventsOf(t.home, busy, 'checkin_received')[0]?.timestamp));
  await waitFor(() => Date.now() - firstCheckin > 3 * 2000, { what: 'three stall timeouts of the busy agent', timeoutMs: 20_000, intervalMs: 100 });
  assert.deepEqual(eventsOf(t.home, busy, 'worker_stalled'), [], 'a worker making tool calls is never stalled');
  // Healthy, or at worst late when a loaded machine delays a hook past the 1 s check-in timeout: never stalled.
  assert.match(String(healthOf(t.home, busy)), /^(healthy|late)$/);
  assert.equal(readSpecFile(t.home, 'active', busy).status, 'running');
  const checkin = readJson(t.paths.checkinFile(busy));
  assert.equal(checkin.progress_pct, 0, 'its progress number never moved');
  assert.match(checkin.activity, /^(PreToolUse|PostToolUse)$/);
  const [stalled] = eventsOf(t.home, silent, 'worker_stalled');
  assert.match(stalled?.data.reason, /no check-in for|progress stuck/);
}));

test('a permission prompt: health blocked, never stalled, a workers_blocked alert raised and resolved when it goes on', { timeout: 60_000 }, () => withHome({
  types: { asking: { command: fakeClaude('-p', 'work', '--permission-prompt'), ...FAST, max_restarts: 0 } },
}, async (t) => {
  const id = uniqueId('asking');
  writePendingSpec(t.home, id, { workerType: 'asking' });
  await t.startDaemon(DAEMON);
  await waitFor(() => healthOf(t.home, id) === 'blocked', { what: 'the worker to be blocked', timeoutMs: 20_000 });
  const seen = pmState(t.home).monitored_workers[id];
  assert.equal(seen.checkin_status, 'blocked');
  assert.equal(seen.checkin_message, 'Claude needs your permission to use Bash');
  const raised = await waitFor(() => alerts(t.home).find((a) => a.type === 'workers_blocked' && a.status === 'active'), { what: 'the workers_blocked alert' });
  assert.deepEqual(raised.worker_ids, [id]);
  assert.match(raised.message, new RegExp(`${id} \\(Claude needs your permission to use Bash\\)`));
  assert.equal(eventsOf(t.home, id, 'worker_blocked').length, 1);

  // Silent for well past its stall timeout (2 s): still blocked, never stopped.
  const blockedAt = Date.parse(defined(eventsOf(t.home, id, 'worker_blocked')[0]?.timestamp));
  await waitFor(() => Date.now() - blockedAt > 3 * 2000, { what: 'three stall timeouts', timeoutMs: 20_000, intervalMs: 100 });
  assert.equal(healthOf(t.home, id), 'blocked');
  const since = (/** @type {string} */ type) => eventsOf(t.home, id, type).filter((e) => Date.parse(e.timestamp) >= blockedAt);
  assert.deepEqual(eventsOf(t.home, id, 'worker_stalled'), []);
  assert.deepEqual(since('missed_checkin'), [], 'never late while blocked');
  assert.equal(readSpecFile(t.home, 'active', id).status, 'running');

  // The person answers: the agent's next tool call clears it, and the alert is resolved.
  const spec = readSpecFile(t.home, 'active', id);
  const answered = await runHook({ WORKER_ID: id, COMMIT_RELAY_HOME: t.home, COMMIT_RELAY_RUN_ID: spec.execution.run_id }, { session_id: 's', hook_event_name: 'PostToolUse', tool_name: 'Bash' });
  assert.equal(answered.code, 0, answered.stderr);
  await waitFor(() => healthOf(t.home, id) === 'healthy', { what: 'the worker to be healthy again' });
  const resolved = await waitFor(() => alerts(t.home).find((a) => a.id === raised.id && a.status === 'resolved'), { what: 'the alert to be resolved' });
  assert.ok(resolved.resolved_at);
  // The event follows the alerts file's write (appended just after it, under the alerts lock): waited for, not raced.
  const log = await waitFor(() => {
    const text = readFileSync(coord(t.home, 'pm-activity.jsonl'), 'utf8');
    return /"event":"alert_resolved".*"type":"workers_blocked"/.test(text) ? text : undefined;
  }, { what: 'the alert_resolved event' });
  assert.match(log, /"event":"alert_raised".*"type":"workers_blocked"/);
}));

test('blocked past blocked_timeout_seconds: stopped and restarted as a stall, the reason says blocked too long', { timeout: 60_000 }, () => withHome({
  types: { asking: { command: fakeClaude('-p', 'work', '--permission-prompt'), ...FAST, blocked_timeout_seconds: 1.5, max_restarts: 1 } },
}, async (t) => {
  const id = uniqueId('waits');
  writePendingSpec(t.home, id, { workerType: 'asking' });
  await t.startDaemon(DAEMON);
  const stalled = await waitFor(() => eventsOf(t.home, id, 'worker_stalled')[0], { what: 'the blocked worker to be stalled', timeoutMs: 20_000 });
  assert.match(stalled.data.reason, /^blocked too long: waiting for a person for \d+s \(blocked_timeout_seconds 2\): Claude needs your permission to use Bash$/);
  assert.equal(stalled.data.previous_state, 'blocked');
  await waitFor(() => eventsOf(t.home, id, 'worker_restarted').length > 0 || eventsOf(t.home, id, 'worker_started').length > 1, { what: 'the restart', timeoutMs: 20_000 });
  const [killed] = eventsOf(t.home, id, 'worker_killed');
  assert.equal(killed?.data.reason, 'stalled');
  assert.match(killed?.data.detail, /blocked too long/);
  // The new run blocks again, and is handled the same way: after max_restarts it fails, blocked too long.
  const failed = await waitFor(() => {
    try {
      return readSpecFile(t.home, 'failed', id);
    } catch {
      return undefined;
    }
  }, { what: 'the worker to fail after its restart', timeoutMs: 30_000 });
  assert.equal(failed.execution.restart_count, 1);
  assert.match(failed.error, /stalled/);
  assert.equal(eventsOf(t.home, id, 'worker_blocked').length, 2, 'each run was blocked once');
}));

/**
 * @template T
 * @param {T} value
 * @returns {NonNullable<T>}
 */
function defined(value) {
  assert.ok(value !== undefined && value !== null);
  return /** @type {NonNullable<T>} */ (value);
}
