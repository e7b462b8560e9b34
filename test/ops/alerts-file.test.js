import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runAlertHook } from '../../dist/ops/hook-runner.js';
import { readAlertsFile, updateAlertsFile } from '../../dist/ops/alerts-file.js';
import { readIdentity } from '../../dist/process/identity.js';
import { defined, readJson, readJsonl, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';

const thresholds = { zombie_threshold: 2, stalled_threshold: 5, restart_storm_threshold: 20, failure_rate_threshold: 0.5, failure_rate_min_samples: 5, queue_depth_threshold: 100 };
const quiet = { zombieIds: [], stalledIds: [], restartsLastHour: 0, completedLastHour: 0, failedLastHour: 0, queueDepth: 0 };
const obs = (fields = {}, now = Date.now()) => ({ now, thresholds, ...quiet, ...fields });


const alertEvents = ({ paths }) => readJsonl(paths.activity).filter((e) => e.event.startsWith('alert_'));

describe('updateAlertsFile', () => {
  test('creates health-alerts.json even with nothing to say', () => withHome({}, async ({ paths }) => {
    const result = await updateAlertsFile(paths, obs());
    assert.deepEqual(result.raised, []);
    assert.deepEqual(readJson(paths.alerts), { alerts: [] });
    assert.deepEqual(alertEvents({ paths }), []);
  }));

  test('raises once with one alert_raised event, resolves once with one alert_resolved event', () => withHome({}, async ({ paths }) => {
    const t0 = Date.now();
    const first = await updateAlertsFile(paths, obs({ zombieIds: ['w-1', 'w-2'] }, t0));
    assert.equal(first.raised.length, 1);
    await updateAlertsFile(paths, obs({ zombieIds: ['w-1', 'w-2', 'w-3'] }, t0 + 1000));
    await updateAlertsFile(paths, obs({ zombieIds: ['w-1', 'w-2', 'w-3'] }, t0 + 2000));
    let file = readJson(paths.alerts);
    assert.equal(file.alerts.length, 1);
    assert.equal(file.alerts[0].metric_value, 3);
    assert.deepEqual(file.alerts[0].worker_ids, ['w-1', 'w-2', 'w-3']);
    assert.deepEqual(
      alertEvents({ paths }).map((e) => e.event),
      ['alert_raised'],
    );
    const raisedEvent = alertEvents({ paths })[0];
    assert.equal(raisedEvent.data.type, 'zombie_threshold');
    assert.equal(raisedEvent.data.alert_id, first.raised[0].id);

    const cleared = await updateAlertsFile(paths, obs({}, t0 + 3000));
    assert.equal(cleared.resolved.length, 1);
    await updateAlertsFile(paths, obs({}, t0 + 4000));
    file = readJson(paths.alerts);
    assert.equal(file.alerts[0].status, 'resolved');
    assert.deepEqual(
      alertEvents({ paths }).map((e) => e.event),
      ['alert_raised', 'alert_resolved'],
    );
    // The runbook's own query works on what we write.
    assert.equal(file.alerts.filter((a) => a.type === 'zombie_threshold').length, 1);
  }));

  test('a corrupt health-alerts.json is set aside, reported, and replaced', () => withHome({}, async ({ paths }) => {
    writeFileSync(paths.alerts, '{"alerts": [ this is not json');
    const result = await updateAlertsFile(paths, obs({ queueDepth: 500 }));
    assert.ok(result.setAside);
    assert.match(result.setAside.reason, /not valid JSON/);
    const corrupt = readdirSync(paths.coordination).filter((n) => n.startsWith('health-alerts.json.corrupt-'));
    assert.equal(corrupt.length, 1);
    assert.equal(readFileSync(join(paths.coordination, corrupt[0]), 'utf8'), '{"alerts": [ this is not json');
    assert.equal(readJson(paths.alerts).alerts.length, 1);
    assert.equal(readAlertsFile(paths).ok, true);
    const errors = readJsonl(paths.activity).filter((e) => e.event === 'daemon_error');
    assert.equal(errors.length, 1);
    assert.equal(errors[0].data.source, 'alerts');
  }));

  test('concurrent updaters never duplicate an alert', () => withHome({}, async ({ paths }) => {
    const now = Date.now();
    await Promise.all(Array.from({ length: 5 }, (_, i) => updateAlertsFile(paths, obs({ restartsLastHour: 25 }, now + i))));
    const file = readJson(paths.alerts);
    assert.equal(file.alerts.filter((a) => a.type === 'restart_storm').length, 1);
    assert.equal(alertEvents({ paths }).length, 1);
  }));
});

describe('runAlertHook', () => {
  /** @type {import('../../dist/contract/alerts.js').Alert} */
  const alert = { id: 'queue_depth-x', type: 'queue_depth', severity: 'warning', status: 'active', message: '150 tasks queued', metric_value: 150, threshold: 100, created_at: new Date().toISOString(), resolved_at: null, worker_ids: [] };

  test('the hook receives the alert as JSON on stdin', () => withHome({}, async ({ home }) => {
    const out = join(home, 'hook-input.json');
    const outcome = await runAlertHook(['sh', '-c', 'cat > "$1"; echo "$COMMIT_RELAY_ALERT_TYPE" >> "$1.type"', 'hook', out], alert, 5000, home);
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.equal(outcome.exitCode, 0);
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), alert);
    assert.equal(readFileSync(`${out}.type`, 'utf8').trim(), 'queue_depth');
  }));

  test('runs in the given folder and may ignore its stdin', () => withHome({}, async ({ home }) => {
    const outcome = await runAlertHook(['sh', '-c', 'pwd > where.txt'], alert, 5000, home);
    assert.equal(outcome.ok, true);
    assert.equal(readFileSync(join(home, 'where.txt'), 'utf8').trim(), home);
  }));

  test('a failing hook is reported with its exit code and stderr, never thrown', () => withHome({}, async ({ home }) => {
    const outcome = await runAlertHook(['sh', '-c', 'echo boom >&2; exit 7'], alert, 5000, home);
    assert.equal(outcome.ok, false);
    assert.equal(outcome.exitCode, 7);
    assert.equal(outcome.timedOut, false);
    assert.match(defined(outcome.error, 'the error'), /exited with code 7/);
    assert.equal(outcome.stderrTail, 'boom');
  }));

  test('a missing program is reported, never thrown', () => withHome({}, async ({ home }) => {
    const outcome = await runAlertHook([join(home, 'no-such-hook')], alert, 5000, home);
    assert.equal(outcome.ok, false);
    assert.match(defined(outcome.error, 'the error'), /no-such-hook|ENOENT/);
    const empty = await runAlertHook([], alert, 5000, home);
    assert.equal(empty.ok, false);
  }));

  test('a hanging hook and the children it started are killed at the timeout', () => withHome({}, async ({ home }) => {
    const pidFile = join(home, 'grandchild.pid');
    const started = Date.now();
    const outcome = await runAlertHook(['sh', '-c', 'trap "" TERM; sleep 30 & echo $! > "$1"; wait; sleep 30', 'hook', pidFile], alert, 300, home);
    const took = Date.now() - started;
    assert.equal(outcome.ok, false);
    assert.equal(outcome.timedOut, true);
    assert.match(defined(outcome.error, 'the error'), /did not finish within 300 ms/);
    assert.ok(took < 2000, `took ${took} ms`);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    // Gone, or a zombie waiting for init to reap it: either way no longer running.
    await waitFor(() => readIdentity(grandchild) === undefined, { timeoutMs: 3000, what: 'the hook grandchild to be gone' });
  }));

  test('a hook that exits at the timeout leaves no child that ignores SIGTERM', () => withHome({}, async ({ home }) => {
    const pidFile = join(home, 'stubborn.pid');
    // The hook itself dies of the SIGTERM; its child ignores it (an ignored signal stays ignored across exec) and holds no pipe of the hook open.
    const outcome = await runAlertHook(['sh', '-c', '(trap "" TERM; exec sleep 30 >/dev/null 2>&1) & echo $! > "$1"; wait', 'hook', pidFile], alert, 300, home);
    assert.equal(outcome.timedOut, true);
    const stubborn = Number(readFileSync(pidFile, 'utf8'));
    await waitFor(() => readIdentity(stubborn) === undefined, { timeoutMs: 3000, what: 'the stubborn child to be killed after the grace' });
  }));
});
