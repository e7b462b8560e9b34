import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { events, eventsOf, pmState, stopDaemon } from '../helpers/daemon.js';
import { QUICK, defined, fixtureCommand as fixture, readJson, run, waitFor } from '../helpers/home.js';
import { childrenOf, isAlive, procStat } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';
import { specPath } from '../helpers/specs.js';

const quick = { ...QUICK, startup_grace_seconds: 0 };

async function queue(home, type, description = `task for ${type}`) {
  const result = await run(home, ['create-task', '--description', description, '--worker-type', type]);
  assert.equal(result.code, 0, result.stderr);
  const taskId = result.stdout.trim();
  return { taskId, workerId: `worker-${type}-${taskId.slice(5)}` };
}

describe('the daemon with real workers', () => {
  test('a crash then a success ends in completed/ with one restart', () => withHome({ types: { flaky: { command: fixture('crash-once.sh'), ...quick } } }, async ({ home, startDaemon }) => {
    const { workerId, taskId } = await queue(home, 'flaky');
    await startDaemon();
    await waitFor(() => existsSync(specPath(home, 'completed', workerId)) && eventsOf(home, workerId, 'task_completed').length === 1, { what: 'completed spec', timeoutMs: 15_000 });
    const spec = readJson(specPath(home, 'completed', workerId));
    assert.equal(spec.status, 'completed');
    assert.equal(spec.execution.exit_code, 0);
    assert.equal(spec.execution.restart_count, 1);
    assert.equal(eventsOf(home, workerId, 'worker_restarted').length, 1);
    assert.equal(eventsOf(home, workerId, 'worker_completed').length, 1);
    const task = readJson(join(home, 'coordination', 'task-queue.json')).tasks.find((t) => t.task_id === taskId);
    assert.equal(task.status, 'completed');
  }));

  test('silence: stalled, killed, restarted, then failed/ after the limit, each event once per run', () => withHome({ types: { silent: { command: fixture('forever.sh', '{worker_id}'), ...quick, checkin_timeout_seconds: 0.4, stall_timeout_seconds: 0.8, max_restarts: 1 } } }, async ({ home, startDaemon }) => {
    const { workerId } = await queue(home, 'silent');
    await startDaemon();
    await waitFor(() => existsSync(specPath(home, 'failed', workerId)) && eventsOf(home, workerId, 'worker_failed').length === 1, { what: 'failed spec', timeoutMs: 20_000 });
    const spec = readJson(specPath(home, 'failed', workerId));
    assert.equal(spec.status, 'failed');
    assert.match(spec.error, /stalled/);
    assert.match(spec.error, /gave up after 1 restart/);
    const count = (type) => eventsOf(home, workerId, type).length;
    assert.ok(count('missed_checkin') <= 2, 'late at most once per run (a pass may see it stalled first)');
    assert.equal(count('worker_stalled'), 2, 'stalled once per run');
    assert.equal(count('worker_killed'), 2);
    assert.equal(count('worker_restarted'), 1);
    assert.equal(count('worker_failed'), 1);
    // Nothing of the worker is left running.
    await waitFor(() => !execFileSync('ps', ['-eo', 'args']).toString().includes(workerId), { what: 'no process left' });
  }));

  for (const launcher of [false, true]) {
    const how = launcher ? ' (the launcher, by default: each start forked by it, whose child the shim is)' : ' (PM_LAUNCHER=0: the daemon forks)';
    test(`kill -9 of a whole group is a zombie, then a restart${how}`, () => withHome({ types: { steady: { command: fixture('checkin-loop.sh', '0.2'), ...quick, restart_backoff_seconds: 0 } } }, async ({ home, startDaemon }) => {
      const { workerId } = await queue(home, 'steady');
      const daemon = await startDaemon(launcher ? {} : { env: { PM_LAUNCHER: '0' } });
      const first = await waitFor(() => {
        const spec = readJson(specPath(home, 'active', workerId));
        return spec.status === 'running' && spec.execution.pid;
      }, { what: 'worker running' });
      const parent = procStat(first)?.ppid;
      if (launcher) assert.match(readFileSync(`/proc/${parent}/cmdline`, 'latin1'), /launcher\.pl/, 'the launcher forked the shim');
      else assert.equal(parent, daemon.child.pid, 'the daemon forked the shim');
      process.kill(-first, 'SIGKILL');
      await waitFor(() => eventsOf(home, workerId, 'zombie_detected').length === 1, { what: 'zombie_detected', timeoutMs: 5000 });
      const second = await waitFor(() => {
        const spec = readJson(specPath(home, 'active', workerId));
        return spec.status === 'running' && spec.execution.pid !== first && spec.execution.pid;
      }, { what: 'restarted worker' });
      assert.ok(isAlive(second));
      await waitFor(() => eventsOf(home, workerId, 'worker_restarted').length === 1, { what: 'worker_restarted' });
      assert.equal(readJson(specPath(home, 'active', workerId)).execution.restart_count, 1);
    }));
  }

  test('a worker whose launcher died is still restarted at once when its shim writes its exit record (no exit event will come)', () =>
    withHome({ types: { steady: { command: fixture('checkin-loop.sh', '0.2'), ...quick, restart_backoff_seconds: 0 } } }, async ({ home, startDaemon }) => {
      const { workerId } = await queue(home, 'steady');
      // Passes a minute apart: only the exit record's watch can bring the restart within seconds.
      await startDaemon({ env: { PM_LAUNCHER: '1', PM_LOOP_INTERVAL: '60' } });
      const first = await waitFor(() => {
        const spec = readJson(specPath(home, 'active', workerId));
        return spec.status === 'running' && spec.execution.pid;
      }, { what: 'worker running' });
      const launcher = defined(procStat(first)?.ppid, 'launcher pid');
      assert.match(readFileSync(`/proc/${launcher}/cmdline`, 'latin1'), /launcher\.pl/);
      process.kill(launcher, 'SIGKILL');
      await waitFor(() => !isAlive(launcher) || procStat(launcher)?.state === 'Z', { what: 'the launcher gone' });
      // The worker's own process ends: the shim (now an orphan of the launcher) records it and exits.
      const command = await waitFor(() => childrenOf(first)[0], { what: "the shim's child" });
      process.kill(command, 'SIGKILL');
      await waitFor(() => eventsOf(home, workerId, 'worker_restarted').length === 1, { what: 'restarted on its exit record', timeoutMs: 10_000 });
      const spec = readJson(specPath(home, 'active', workerId));
      assert.notEqual(spec.execution.pid, first);
      assert.equal(spec.execution.restart_count, 1);
    }));

  test('a second daemon for the same home is refused, naming the first', () => withHome({}, async ({ home, startDaemon }) => {
    const daemon = await startDaemon();
    const second = await run(home, ['pm-daemon', '--quiet']);
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, new RegExp(`already runs.*pid ${daemon.child.pid}`));
    assert.equal(second.stderr.trim().split('\n').length, 1);
  }));

  test('a daemon killed with SIGKILL is taken over by the next', () => withHome({}, async ({ home, startDaemon }) => {
    let daemon = await startDaemon();
    await stopDaemon(daemon, 'SIGKILL');
    daemon = await startDaemon();
    const started = events(home).filter((e) => e.event === 'pm_started');
    assert.equal(started.length, 2);
    assert.equal(started[1].data.took_over_from.pid, started[0].data.pid);
  }));

  test('SIGTERM leaves workers running; a new daemon adopts them with the same pids', () => withHome({ types: { steady: { command: fixture('checkin-loop.sh', '0.2'), ...quick } } }, async ({ home, startDaemon }) => {
    const a = await queue(home, 'steady', 'one');
    const b = await queue(home, 'steady', 'two');
    let daemon = await startDaemon();
    const pids = await waitFor(() => {
      const specs = [a, b].map((t) => readJson(specPath(home, 'active', t.workerId)));
      return specs.every((s) => s.status === 'running') && /** @type {number[]} */ (specs.map((s) => s.execution.pid));
    }, { what: 'both running' });
    const result = await stopDaemon(daemon);
    assert.equal(result.code, 0);
    const stopped = events(home).filter((e) => e.event === 'pm_stopped');
    assert.equal(stopped.length, 1);
    assert.equal(stopped[0].data.graceful, true);
    assert.ok(pids.every(isAlive), 'workers outlive the daemon');
    daemon = await startDaemon();
    await waitFor(() => pmState(home).pm_daemon.loops_completed >= 3, { what: 'a few passes' });
    const after = [a, b].map((t) => readJson(specPath(home, 'active', t.workerId)).execution.pid);
    assert.deepEqual(after, pids);
    for (const t of [a, b]) {
      assert.equal(eventsOf(home, t.workerId, 'worker_started').length, 1, 'started once, never again');
      assert.equal(pmState(home).monitored_workers[t.workerId].health_state, 'healthy');
    }
  }));

  test('a worker that exits while no daemon runs ends in the right folder', () => withHome({ types: { short: { command: fixture('exit-with.sh', '0', '1'), ...quick }, bad: { command: fixture('exit-with.sh', '5', '1'), ...quick, max_restarts: 0 } } }, async ({ home, startDaemon }) => {
    const ok = await queue(home, 'short');
    const bad = await queue(home, 'bad');
    let daemon = await startDaemon();
    await waitFor(() => [ok, bad].every((t) => readJson(specPath(home, 'active', t.workerId)).status === 'running'), { what: 'both running' });
    await stopDaemon(daemon);
    // Both exit while no daemon runs; their shims record it.
    await waitFor(() => readdirSync(join(home, 'coordination', 'worker-exits')).filter((n) => n.endsWith('.json')).length === 2, { what: 'exit records' });
    daemon = await startDaemon();
    await waitFor(() => existsSync(specPath(home, 'completed', ok.workerId)) && existsSync(specPath(home, 'failed', bad.workerId)), { what: 'true end states' });
    assert.equal(readJson(specPath(home, 'failed', bad.workerId)).execution.exit_code, 5);
    assert.equal(eventsOf(home, ok.workerId, 'zombie_detected').length, 0, 'never mistaken for a zombie');
    assert.equal(eventsOf(home, bad.workerId, 'zombie_detected').length, 0);
  }));
});

describe('the daemon with metrics enabled', () => {
  test('serves /metrics and /health on loopback, on the port pm-state.json names', () => withHome({}, async ({ home, startDaemon }) => {
    await startDaemon({ env: { PM_METRICS_PORT: '0' } });
    const endpoint = await waitFor(() => pmState(home).pm_daemon.metrics, { what: 'the metrics endpoint in pm-state.json' });
    assert.equal(endpoint.host, '127.0.0.1');
    const metrics = await (await fetch(`http://127.0.0.1:${endpoint.port}/metrics`)).text();
    assert.match(metrics, /commit_relay_workers\{state="healthy"\} 0/);
    assert.match(metrics, /commit_relay_pass_duration_seconds_count \d+/);
    const health = await fetch(`http://127.0.0.1:${endpoint.port}/health`);
    assert.equal(health.status, 200);
    assert.equal(/** @type {{ ok: boolean }} */ (await health.json()).ok, true);
  }));
});
