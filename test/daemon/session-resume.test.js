// Session resume (a type's `resume_command`): the daemon keeps the latest session a worker checked in with
// (`execution.session_id`) and restarts the worker with resume_command and that session; a resume that dies at
// once (within the startup grace) falls back to the fresh `command` on the next restart, and the events say
// which ran and why. start-worker and restart-worker follow the same rule.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fixtureCommand, QUICK, run, SCRIPTS, waitFor } from '../helpers/home.js';
import { eventsOf, pmState } from '../helpers/daemon.js';
import { withHome } from '../helpers/scope.js';
import { readSpecFile, writePendingSpec } from '../helpers/specs.js';

const CHECKIN = join(SCRIPTS, 'checkin.sh');
const AGENT = {
  command: fixtureCommand('resume-agent.sh', CHECKIN),
  resume_command: fixtureCommand('resume-agent.sh', CHECKIN, '--resume', '{session_id}'),
  startup_grace_seconds: 1.5,
  max_restarts: 3,
  ...QUICK,
};

/** The runs the agent recorded ("fresh ID" / "resumed ID"). @param {string} home @param {string} id */
const runsOf = (home, id) => {
  const file = join(home, `runs-${id}.log`);
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
};

test('a restart resumes the session the worker checked in with (resume_command with {session_id})', () =>
  withHome({ types: { agent: AGENT } }, async (t) => {
    writePendingSpec(t.home, 'w-resume', { workerType: 'agent' });
    await t.startDaemon();
    // The daemon records the session while the first run still works (its later check-in has none).
    const recorded = await waitFor(() => readSpecFile(t.home, 'active', 'w-resume')?.execution?.session_id, { what: 'the session in the spec', timeoutMs: 15_000 });
    await waitFor(() => pmState(t.home).monitored_workers['w-resume']?.session_id === recorded, { what: 'the session in pm-state.json', timeoutMs: 15_000 });
    const done = await waitFor(() => readSpecFile(t.home, 'completed', 'w-resume'), { what: 'the worker to complete after its resumed run', timeoutMs: 30_000 });
    const runs = runsOf(t.home, 'w-resume');
    assert.equal(runs.length, 2, runs.join('\n'));
    const session = /^fresh (sess-\S+)$/.exec(runs[0] ?? '')?.[1];
    assert.ok(session, `a fresh first run: ${runs[0]}`);
    assert.equal(runs[1], `resumed ${session}`, 'the restart resumed that session');
    assert.equal(recorded, session);
    assert.equal(done.execution.session_id, session, 'the spec keeps the session');
    assert.equal(done.execution.resumed_session, session);
    const started = eventsOf(t.home, 'w-resume', 'worker_started');
    assert.equal(started.length, 2);
    assert.equal(started[0]?.data.resumed, false);
    assert.match(String(started[0]?.data.why), /first start/);
    assert.equal(started[1]?.data.resumed, true);
    assert.equal(started[1]?.data.session_id, session);
    const restarted = eventsOf(t.home, 'w-resume', 'worker_restarted');
    assert.equal(restarted.length, 1);
    assert.equal(restarted[0]?.data.resumed, true);
    assert.equal(restarted[0]?.data.session_id, session);
  }));

test('a resume that dies at once: the next restart runs the fresh command, and the event says why', () =>
  withHome({ types: { agent: { ...AGENT, env: { RESUME_FAILS: '1' } } } }, async (t) => {
    writePendingSpec(t.home, 'w-fallback', { workerType: 'agent' });
    await t.startDaemon();
    const done = await waitFor(() => readSpecFile(t.home, 'completed', 'w-fallback'), { what: 'the worker to complete after a fresh run', timeoutMs: 30_000 });
    const runs = runsOf(t.home, 'w-fallback');
    assert.equal(runs.length, 3, runs.join('\n'));
    const first = /^fresh (sess-\S+)$/.exec(runs[0] ?? '')?.[1];
    assert.ok(first);
    assert.equal(runs[1], `resumed ${first}`);
    assert.match(runs[2] ?? '', /^fresh sess-/, 'after the failed resume: a fresh run');
    assert.notEqual(runs[2], runs[0], 'with a new session');
    assert.equal(done.execution.resume_failed_session, first, 'the failed session is never resumed again');
    const restarted = eventsOf(t.home, 'w-fallback', 'worker_restarted');
    assert.equal(restarted.length, 2);
    assert.equal(restarted[0]?.data.resumed, true);
    assert.equal(restarted[1]?.data.resumed, false);
    assert.match(String(restarted[1]?.data.why), new RegExp(`resuming session ${first} failed at once .*within the startup grace`));
    const started = eventsOf(t.home, 'w-fallback', 'worker_started');
    assert.deepEqual(started.map((e) => e.data.resumed), [false, true, false]);
  }));

test('a resumed run that is rate limited at once keeps its session: the restart after the wait resumes it again', () =>
  withHome({ types: { agent: { ...AGENT, env: { RESUME_LIMITED: '1' }, rate_limit_exit_codes: [75] } } }, async (t) => {
    writePendingSpec(t.home, 'w-limited', { workerType: 'agent' });
    await t.startDaemon();
    const done = await waitFor(() => readSpecFile(t.home, 'completed', 'w-limited'), { what: 'the worker to complete after its second resume', timeoutMs: 30_000 });
    const runs = runsOf(t.home, 'w-limited');
    const session = /^fresh (sess-\S+)$/.exec(runs[0] ?? '')?.[1];
    assert.ok(session, runs.join('\n'));
    assert.deepEqual(runs, [`fresh ${session}`, `resumed ${session}`, `resumed ${session}`], 'a rate limit is not a failed resume');
    assert.equal(done.execution.resume_failed_session, null);
    assert.equal(done.execution.rate_limit_waits, 1);
    assert.equal(done.execution.restart_count, 1, 'the wait is not a restart of the count');
    const started = eventsOf(t.home, 'w-limited', 'worker_started');
    assert.deepEqual(started.map((e) => [e.data.resumed, e.data.session_id]), [[false, null], [true, session], [true, session]]);
  }));

test('restart-worker (no daemon) follows the same rule: it resumes the session of the last check-in', () =>
  // Without a daemon nobody copied the session into the spec: the run's last check-in (which carries it, as the
  // Claude Code hook's do) is read at the start.
  withHome({ types: { agent: { ...AGENT, env: { AGENT_WORK_SECONDS: '0.2', PLAIN_CHECKIN: '' } } } }, async (t) => {
    const file = writePendingSpec(t.home, 'w-manual', { workerType: 'agent' });
    const start = await run(t.home, ['start-worker', '--spec', file]);
    assert.equal(start.code, 0, start.stderr);
    t.tracker.group(Number(start.stdout.trim()));
    // No daemon: the session is only in the check-in file; the run ends on its own (exit 3).
    await waitFor(() => existsSync(t.paths.exitFile('w-manual')), { what: 'the first run to end', timeoutMs: 15_000 });
    const session = /^fresh (sess-\S+)$/.exec(runsOf(t.home, 'w-manual')[0] ?? '')?.[1];
    assert.ok(session);
    const restart = await run(t.home, ['restart-worker', 'w-manual']);
    assert.equal(restart.code, 0, restart.stderr);
    await waitFor(() => runsOf(t.home, 'w-manual').length === 2, { what: 'the second run', timeoutMs: 15_000 });
    assert.equal(runsOf(t.home, 'w-manual')[1], `resumed ${session}`);
    const spec = readSpecFile(t.home, 'active', 'w-manual');
    assert.equal(spec.execution.session_id, session);
    assert.equal(spec.execution.resumed_session, session);
    const started = eventsOf(t.home, 'w-manual', 'worker_started');
    assert.equal(started.at(-1)?.data.resumed, true);
    await waitFor(() => existsSync(t.paths.exitFile('w-manual')), { what: 'the resumed run to end', timeoutMs: 15_000 });
  }));
