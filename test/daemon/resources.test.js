import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { events, eventsOf, pmState } from '../helpers/daemon.js';
import { QUICK, fixtureCommand as fixture, readJson, run, waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';
import { specPath } from '../helpers/specs.js';

const MIB = 1024 * 1024;
const quick = { ...QUICK, startup_grace_seconds: 0 };
const types = {
  // Its child holds 80 MiB of touched memory: the run (shim, shell, child) is over 50 MiB.
  hog: { command: fixture('memory-hog.sh', process.execPath, '80'), ...quick, memory_limit_mb: 50, max_restarts: 1 },
  steady: { command: fixture('checkin-loop.sh', '0.2'), ...quick },
};

/** @param {string} home @param {string} type */
async function queue(home, type) {
  const result = await run(home, ['create-task', '--description', `task for ${type}`, '--worker-type', type]);
  assert.equal(result.code, 0, result.stderr);
  return `worker-${type}-${result.stdout.trim().slice(5)}`;
}

test('resources are sampled into pm-state.json and /metrics; a run over memory_limit_mb is stopped, restarted, then failed', () => withHome({ types, daemonConfig: { resource_sample_seconds: 1 } }, async ({ home, startDaemon }) => {
  const hog = await queue(home, 'hog');
  const steady = await queue(home, 'steady');
  await startDaemon({ env: { PM_METRICS_PORT: '0' } });

  await waitFor(() => existsSync(specPath(home, 'failed', hog)) && eventsOf(home, hog, 'worker_failed').length === 1, { what: 'the hog failed', timeoutMs: 20_000 });
  const spec = readJson(specPath(home, 'failed', hog));
  assert.equal(spec.execution.restart_count, 1);
  assert.match(spec.error, /over its memory limit \(memory_limit_mb 50\); gave up after 1 restart/);
  const exceeded = eventsOf(home, hog, 'memory_limit_exceeded');
  assert.equal(exceeded.length, 2, 'once per run');
  for (const { data } of exceeded) {
    assert.equal(data.limit_bytes, 50 * MIB);
    assert.ok(data.rss_bytes > data.limit_bytes, `rss ${data.rss_bytes}`);
    assert.ok(data.processes >= 2, 'the whole run, children included');
    assert.match(String(data.biggest_command), /Buffer\.alloc/);
    assert.ok(Number.isInteger(data.biggest_pid));
  }
  assert.deepEqual(eventsOf(home, hog, 'worker_killed').map((e) => e.data.reason), ['memory_limit', 'memory_limit']);
  assert.equal(eventsOf(home, hog, 'worker_restarted').length, 1);
  assert.equal(eventsOf(home, hog, 'worker_restarted')[0].data.restart_count, 1);

  // The steady worker: sampled (CPU known from its second sample on), in pm-state.json and /metrics; the failed one dropped out.
  const resources = await waitFor(() => {
    const r = pmState(home).monitored_workers[steady]?.resources;
    return r?.cpu_percent !== null && r?.cpu_percent !== undefined && r;
  }, { what: 'resources in pm-state.json' });
  assert.ok(resources.rss_bytes > 0);
  assert.ok(resources.processes >= 1);
  assert.ok(!Number.isNaN(Date.parse(resources.sampled_at)));
  assert.equal(pmState(home).configuration.resource_sample_seconds, 1);
  const port = pmState(home).pm_daemon.metrics.port;
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.match(metrics, new RegExp(`commit_relay_worker_memory_bytes\\{worker_id="${steady}",worker_type="steady"\\} [1-9]\\d*`));
  assert.match(metrics, new RegExp(`commit_relay_worker_cpu_percent\\{worker_id="${steady}",worker_type="steady"\\} [\\d.]+`));
  assert.doesNotMatch(metrics, new RegExp(hog));
}));

test('with sampling off, a memory limit that cannot be enforced is a warning at start', () => withHome({ types, daemonConfig: { resource_sample_seconds: 0 } }, async ({ home }) => {
  const once = await run(home, ['pm-daemon', '--once', '--quiet']);
  assert.equal(once.code, 0, once.stderr);
  const warnings = events(home).filter((e) => e.event === 'daemon_warning').filter((e) => e.data.warning === 'memory_limit_not_enforced');
  assert.equal(warnings.length, 1);
  assert.deepEqual(warnings[0]?.data.worker_types, ['hog']);
  assert.match(String(warnings[0]?.data.message), /resource_sample_seconds is 0: the memory_limit_mb of hog is not enforced/);
}));
