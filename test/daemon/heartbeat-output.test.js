// Output as a sign of life (a type's `heartbeat`): with `output` or `any`, growth of the worker's output log
// counts as activity, so an agent that never checks in still gets late/stalled detection; silence is no output.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fixtureCommand, QUICK, waitFor } from '../helpers/home.js';
import { eventsOf, pmState } from '../helpers/daemon.js';
import { withHome } from '../helpers/scope.js';
import { readSpecFile, writePendingSpec } from '../helpers/specs.js';

const LIMITS = { checkin_timeout_seconds: 2, stall_timeout_seconds: 4, startup_grace_seconds: 0, max_restarts: 0, ...QUICK };
const PRINTS = fixtureCommand('print-loop.sh', '0.3', '0');
const types = {
  by_output: { command: PRINTS, heartbeat: 'output', ...LIMITS },
  by_any: { command: PRINTS, heartbeat: 'any', ...LIMITS },
  by_checkin: { command: PRINTS, ...LIMITS },
  // Its log is rotated (output.log → output.log.1) every second or so: growth is still seen.
  rotating: { command: fixtureCommand('print-loop.sh', '0.3', '0', '10'), heartbeat: 'output', log_max_bytes: 1024, ...LIMITS },
  goes_quiet: { command: fixtureCommand('print-loop.sh', '0.3', '6'), heartbeat: 'output', ...LIMITS },
};

test('a worker that prints but never checks in: healthy with heartbeat output or any, stalled with checkin; one gone silent is stalled with output', () =>
  withHome({ types }, async (t) => {
    for (const type of Object.keys(types)) writePendingSpec(t.home, `w-${type}`, { workerType: type });
    await t.startDaemon();
    for (const type of Object.keys(types)) {
      const pid = await waitFor(() => readSpecFile(t.home, 'active', `w-${type}`)?.execution?.pid, { what: `w-${type} to start`, timeoutMs: 15_000 });
      t.tracker.group(pid);
    }
    // The printer checked by check-ins is late, then stalled and stopped: its output does not count.
    const stalled = await waitFor(() => eventsOf(t.home, 'w-by_checkin', 'worker_stalled')[0], { what: 'w-by_checkin stalled', timeoutMs: 20_000 });
    assert.match(String(stalled.data.reason ?? JSON.stringify(stalled.data)), /check-in/);
    assert.equal(eventsOf(t.home, 'w-by_checkin', 'missed_checkin').length, 1, 'late before stalled');

    // The one that went silent after ~2 s of output is stalled for lack of output.
    const quiet = await waitFor(() => eventsOf(t.home, 'w-goes_quiet', 'worker_stalled')[0], { what: 'w-goes_quiet stalled', timeoutMs: 20_000 });
    assert.match(JSON.stringify(quiet.data), /no output for/);
    await waitFor(() => readSpecFile(t.home, 'failed', 'w-goes_quiet'), { what: 'w-goes_quiet stopped and failed (max_restarts 0)', timeoutMs: 20_000 });

    // Well past the stall timeout, the printers judged by output are healthy and were never late.
    await waitFor(() => pmState(t.home).monitored_workers['w-by_output']?.health_state === 'healthy', { what: 'w-by_output healthy', timeoutMs: 10_000 });
    assert.ok(existsSync(join(t.paths.workerLogDir('w-rotating'), 'output.log.1')), 'the rotating log was rotated');
    for (const id of ['w-by_output', 'w-by_any', 'w-rotating']) {
      assert.equal(pmState(t.home).monitored_workers[id]?.health_state, 'healthy', `${id} is healthy`);
      assert.deepEqual(eventsOf(t.home, id).filter((e) => ['missed_checkin', 'worker_stalled', 'worker_killed'].includes(e.event)), [], `${id} was never late or stalled`);
      assert.equal(readSpecFile(t.home, 'active', id)?.status, 'running');
      const lastOutput = pmState(t.home).monitored_workers[id]?.last_output;
      assert.ok(typeof lastOutput === 'string' && Date.now() - Date.parse(lastOutput) < 5000, `${id}: pm-state.json shows its recent output (${lastOutput})`);
    }
    await waitFor(() => readSpecFile(t.home, 'failed', 'w-by_checkin'), { what: 'the stalled printer failed (max_restarts 0)', timeoutMs: 15_000 });
  }));

test('heartbeat any: a check-in or output, whichever is later; a worker doing neither is stalled', () =>
  withHome({ types: { silent_any: { command: fixtureCommand('forever.sh', '{worker_id}'), heartbeat: 'any', ...LIMITS } } }, async (t) => {
    writePendingSpec(t.home, 'w-silent', { workerType: 'silent_any' });
    await t.startDaemon();
    const pid = await waitFor(() => readSpecFile(t.home, 'active', 'w-silent')?.execution?.pid, { what: 'w-silent to start', timeoutMs: 15_000 });
    t.tracker.group(pid);
    const stalled = await waitFor(() => eventsOf(t.home, 'w-silent', 'worker_stalled')[0], { what: 'w-silent stalled', timeoutMs: 20_000 });
    assert.match(JSON.stringify(stalled.data), /no check-in or output since it started/);
  }));
