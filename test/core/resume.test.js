// chooseLaunch: which argv a start runs (command, or resume_command with the session), the one rule the daemon and
// start-worker / restart-worker share.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chooseLaunch, failedResume, launchEventData, sessionOfCheckin } from '../../dist/core/resume.js';
import { runningSpec } from '../helpers/specs.js';

const TYPE = { command: ['agent', '-p'], resume_command: ['agent', '--resume', '{session_id}'], startup_grace_seconds: 10 };
const T0 = '2026-01-01T00:00:00.000Z';
const at = (s) => new Date(Date.parse(T0) + s * 1000).toISOString();
/** A spec whose last run started at T0 (run r1) with these execution fields. @param {Record<string, unknown>} execution */
const spec = (execution = {}) => runningSpec('w1', { execution: { started_at: T0, run_id: 'r1', ...execution } });
/** @param {Record<string, unknown>} fields */
const checkin = (fields) => ({ worker_id: 'w1', timestamp: at(1), status: /** @type {const} */ ('in_progress'), progress_pct: 5, ...fields });

describe('chooseLaunch', () => {
  const cases = [
    { name: 'no resume_command: command, nothing said', spec: spec({ session_id: 's1' }), type: { ...TYPE, resume_command: undefined }, resumed: false, why: null, command: TYPE.command },
    { name: 'first start: command', spec: runningSpec('w1', { status: 'pending', execution: { started_at: null } }), resumed: false, why: /first start/ },
    { name: 'ran before, no session: command', spec: spec(), resumed: false, why: /no session id recorded/ },
    { name: 'a session in the spec: resumed', spec: spec({ session_id: 's1' }), resumed: true, session: 's1', command: TYPE.resume_command },
    { name: 'a newer session in the run\'s check-in: that one', spec: spec({ session_id: 's1' }), checkin: checkin({ session_id: 's2', run_id: 'r1' }), resumed: true, session: 's2' },
    { name: 'a check-in of another run: ignored', spec: spec({ session_id: 's1' }), checkin: checkin({ session_id: 's2', run_id: 'r0' }), resumed: true, session: 's1' },
    { name: 'a check-in without a run, older than the run: ignored', spec: spec(), checkin: checkin({ session_id: 's2', timestamp: at(-60) }), resumed: false, why: /no session/ },
    { name: 'a resumed run that ended 2 s after its start (grace 10 s): fresh, why', spec: spec({ session_id: 's1', resumed_session: 's1', last_exit_at: at(2), exit_code: 1 }), resumed: false, why: /resuming session s1 failed at once \(it ended 2s after its start, within the startup grace of 10s\)/, failed: 's1' },
    { name: 'a resumed run that ended after 30 s: resumed again', spec: spec({ session_id: 's1', resumed_session: 's1', last_exit_at: at(30), exit_code: 1 }), resumed: true, session: 's1', failed: null },
    { name: 'a resumed run stopped by SIGTERM at once (an operator): resumed again', spec: spec({ session_id: 's1', resumed_session: 's1', last_exit_at: at(1), exit_code: null, signal: 'SIGTERM' }), resumed: true, failed: null },
    { name: 'a session whose resume failed before: fresh', spec: spec({ session_id: 's1', resume_failed_session: 's1' }), resumed: false, why: /resuming session s1 failed at once/, failed: 's1' },
    { name: 'a new session after a failed one: resumed', spec: spec({ session_id: 's2', resume_failed_session: 's1' }), resumed: true, session: 's2', failed: 's1' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = chooseLaunch(/** @type {any} */ (c.spec), /** @type {any} */ (c.type ?? TYPE), /** @type {any} */ (c.checkin));
      assert.equal(got.resumed, c.resumed);
      if (c.command) assert.deepEqual(got.command, c.command);
      else assert.deepEqual(got.command, c.resumed ? TYPE.resume_command : TYPE.command);
      if (c.session !== undefined) assert.equal(got.sessionId, c.session);
      if (c.why instanceof RegExp) assert.match(String(got.why), c.why);
      else if (c.why === null) assert.equal(got.why, null);
      if (c.failed !== undefined) assert.equal(got.execution.resume_failed_session, c.failed);
      assert.equal(got.execution.resumed_session, c.resumed ? got.sessionId : null);
    });
  }
});

test('launchEventData: silent for a type that cannot resume; else resumed, the session, and why not', () => {
  const noResume = { ...TYPE, resume_command: undefined };
  assert.deepEqual(launchEventData(chooseLaunch(spec({ session_id: 's1' }), noResume)), {});
  assert.deepEqual(launchEventData(chooseLaunch(spec({ session_id: 's1' }), TYPE)), { resumed: true, session_id: 's1' });
  assert.deepEqual(launchEventData(chooseLaunch(spec(), TYPE)), { resumed: false, session_id: null, why: 'no session id recorded' });
});

test('sessionOfCheckin and failedResume at their edges', () => {
  assert.equal(sessionOfCheckin(spec(), null), null);
  assert.equal(sessionOfCheckin(spec(), checkin({ session_id: '' })), null);
  assert.equal(sessionOfCheckin(spec(), checkin({ session_id: 's', run_id: null })), 's');
  assert.equal(failedResume(spec({ resumed_session: 's', last_exit_at: at(-5), exit_code: 1 }), 10), null, 'an end before the start belongs to an earlier run');
  assert.equal(failedResume(spec({ resumed_session: 's', last_exit_at: at(1), exit_code: 0 }), 10), null, 'exit 0 is no failure');
  assert.equal(failedResume(spec({ resumed_session: 's', last_exit_at: at(9.9), exit_code: 2 }), 10), 's');
  assert.equal(failedResume(spec({ resumed_session: 's', last_exit_at: at(1), exit_code: 75, rate_limited_at: at(1) }), 10), null, 'a run rate limited at once did not fail to resume');
  assert.equal(failedResume(spec({ resumed_session: 's', last_exit_at: at(1), exit_code: 2, rate_limited_at: at(-30) }), 10), 's', 'a rate limit of an earlier run does not count');
});

test('a session id that could read as an option, or carries a space, is never put into the argv', () => {
  for (const bad of ['--dangerously-skip-permissions', '-x', 'a b', 'a\nb', '']) {
    const got = chooseLaunch(spec({ session_id: bad }), TYPE);
    assert.equal(got.resumed, false, JSON.stringify(bad));
    assert.deepEqual(got.command, TYPE.command);
  }
  assert.match(String(chooseLaunch(spec({ session_id: '--x' }), TYPE).why), /not a safe id/);
  assert.equal(chooseLaunch(spec({ session_id: '3f2c9a1e-0b7d-4c55-9e61-2a8f4d6b1c09' }), TYPE).resumed, true);
});

test('expandCommand replaces {session_id} (nothing when there is none), once, beside the other placeholders', async () => {
  const { expandCommand } = await import('../../dist/process/spawn.js');
  const values = { worker_id: 'w1', task_id: null, description: 'd {session_id}', home: '/h' };
  assert.deepEqual(expandCommand(['a', '--resume', '{session_id}', '{worker_id}'], { ...values, session_id: 's1' }), ['a', '--resume', 's1', 'w1']);
  assert.deepEqual(expandCommand(['a', '{session_id}'], values), ['a', '']);
  assert.deepEqual(expandCommand(['{description}'], { ...values, session_id: 's1' }), ['d {session_id}'], 'a value is never expanded again');
});
