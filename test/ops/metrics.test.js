import assert from 'node:assert/strict';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { describe, test } from 'node:test';
import { createDaemonMetrics } from '../../dist/ops/metrics.js';
import { startMetricsServer } from '../../dist/ops/metrics-server.js';

const totals = (n) => ({ restarts_total: n, zombies_detected_total: n, workers_completed_total: n, workers_failed_total: n });
const pass = (fields = {}) => ({ workersByHealth: { healthy: 3, stalled: 1 }, tasksQueued: 7, passDurationMs: 12, passEndedAt: Date.parse('2025-11-21T10:00:00Z'), totals: totals(2), ...fields });

function get(host, port, path, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method, timeout: 2000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

const sample = (text, name) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};

describe('daemon metrics', () => {
  test('recordPass sets gauges, observes the pass, and brings counters up to the totals', async () => {
    const metrics = createDaemonMetrics({ processMetrics: false });
    metrics.recordPass(pass());
    let text = await metrics.render();
    assert.equal(sample(text, 'commit_relay_workers{state="healthy"}'), 3);
    assert.equal(sample(text, 'commit_relay_workers{state="stalled"}'), 1);
    assert.equal(sample(text, 'commit_relay_workers{state="zombie"}'), 0);
    assert.equal(sample(text, 'commit_relay_tasks_queued'), 7);
    assert.equal(sample(text, 'commit_relay_last_pass_timestamp_seconds'), Date.parse('2025-11-21T10:00:00Z') / 1000);
    assert.equal(sample(text, 'commit_relay_restarts_total'), 2);
    assert.equal(sample(text, 'commit_relay_pass_duration_seconds_count'), 1);
    assert.match(text, /# TYPE commit_relay_restarts_total counter/);
    assert.match(text, /# TYPE commit_relay_pass_duration_seconds histogram/);

    // A state that empties goes to 0; counters never go down.
    metrics.recordPass(pass({ workersByHealth: { healthy: 4 }, totals: totals(5) }));
    metrics.recordPass(pass({ workersByHealth: { healthy: 4 }, totals: totals(1) }));
    text = await metrics.render();
    assert.equal(sample(text, 'commit_relay_workers{state="stalled"}'), 0);
    assert.equal(sample(text, 'commit_relay_restarts_total'), 5);
    assert.equal(sample(text, 'commit_relay_zombies_detected_total'), 5);
    assert.equal(sample(text, 'commit_relay_workers_completed_total'), 5);
    assert.equal(sample(text, 'commit_relay_workers_failed_total'), 5);
    assert.equal(sample(text, 'commit_relay_pass_duration_seconds_count'), 3);
  });

  test('the shared queue gauge: absent until setQueueCounts (the file backend never calls it), then one sample per state', async () => {
    const metrics = createDaemonMetrics({ processMetrics: false });
    metrics.recordPass(pass());
    let text = await metrics.render();
    assert.doesNotMatch(text, /commit_relay_queue_jobs/);
    assert.equal(sample(text, 'commit_relay_tasks_queued'), 7);
    metrics.setQueueCounts({ waiting: 3, active: 2, delayed: 1, failed: 0, completed: 12 });
    text = await metrics.render();
    assert.match(text, /# TYPE commit_relay_queue_jobs gauge/);
    assert.equal(sample(text, 'commit_relay_queue_jobs{state="waiting"}'), 3);
    assert.equal(sample(text, 'commit_relay_queue_jobs{state="active"}'), 2);
    assert.equal(sample(text, 'commit_relay_queue_jobs{state="delayed"}'), 1);
    assert.equal(sample(text, 'commit_relay_queue_jobs{state="failed"}'), 0);
    assert.equal(sample(text, 'commit_relay_queue_jobs{state="completed"}'), 12);
    metrics.setQueueCounts({ waiting: 0, active: 1, delayed: 0, failed: 1, completed: 14 });
    text = await metrics.render();
    assert.equal(sample(text, 'commit_relay_queue_jobs{state="waiting"}'), 0);
    assert.equal(sample(text, 'commit_relay_queue_jobs{state="completed"}'), 14);
    assert.equal(text.split('\n').filter((l) => l.startsWith('commit_relay_queue_jobs{')).length, 5);
  });

  test('two metric sets never share a registry', async () => {
    const a = createDaemonMetrics();
    const b = createDaemonMetrics();
    a.recordPass(pass({ tasksQueued: 1 }));
    b.recordPass(pass({ tasksQueued: 2 }));
    assert.equal(sample(await a.render(), 'commit_relay_tasks_queued'), 1);
    assert.equal(sample(await b.render(), 'commit_relay_tasks_queued'), 2);
    assert.match(await a.render(), /commit_relay_process_resident_memory_bytes|commit_relay_process_cpu/);
  });
});

describe('metrics server', () => {
  test('serves /metrics and /health on 127.0.0.1, 404 elsewhere', async () => {
    const metrics = createDaemonMetrics();
    metrics.recordPass(pass());
    let healthy = true;
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0 }, metrics, () => ({ ok: healthy, state: healthy ? 'healthy' : 'passes_stopped', pid: 42 }));
    try {
      assert.equal(server.host, '127.0.0.1');
      assert.ok(server.port > 0);
      const m = await get('127.0.0.1', server.port, '/metrics');
      assert.equal(m.status, 200);
      assert.match(m.type, /^text\/plain/);
      for (const name of [
        'commit_relay_workers',
        'commit_relay_tasks_queued',
        'commit_relay_last_pass_timestamp_seconds',
        'commit_relay_restarts_total',
        'commit_relay_zombies_detected_total',
        'commit_relay_workers_completed_total',
        'commit_relay_workers_failed_total',
        'commit_relay_pass_duration_seconds',
      ]) {
        assert.match(m.body, new RegExp(`^# TYPE ${name} `, 'm'), name);
      }
      const h = await get('127.0.0.1', server.port, '/health?verbose=1');
      assert.equal(h.status, 200);
      assert.deepEqual(JSON.parse(h.body), { ok: true, state: 'healthy', pid: 42 });
      healthy = false;
      const sick = await get('127.0.0.1', server.port, '/health');
      assert.equal(sick.status, 503);
      assert.equal(JSON.parse(sick.body).state, 'passes_stopped');
      assert.equal((await get('127.0.0.1', server.port, '/')).status, 404);
      assert.equal((await get('127.0.0.1', server.port, '/metricsx')).status, 404);
      assert.equal((await get('127.0.0.1', server.port, '/metrics', 'POST')).status, 405);

      // Not reachable on any other address of this machine.
      const external = Object.values(networkInterfaces())
        .flat()
        .find((i) => i && i.family === 'IPv4' && !i.internal);
      if (external) await assert.rejects(get(external.address, server.port, '/metrics'), /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|timeout/);
    } finally {
      await server.close();
      await server.close();
    }
    await assert.rejects(get('127.0.0.1', server.port, '/metrics'), /ECONNREFUSED/);
  });

  test('refuses a non-loopback host and reports a port in use', async () => {
    const metrics = createDaemonMetrics({ processMetrics: false });
    await assert.rejects(startMetricsServer({ host: '0.0.0.0', port: 0 }, metrics, () => ({})), (/** @type {import('../../dist/errors.js').RelayError} */ e) => e.code === 'CONFIG_INVALID' && /loopback/.test(e.message));
    const first = await startMetricsServer({ host: '127.0.0.1', port: 0 }, metrics, () => ({}));
    try {
      await assert.rejects(startMetricsServer({ host: '127.0.0.1', port: first.port }, metrics, () => ({})), (/** @type {import('../../dist/errors.js').RelayError} */ e) => e.code === 'IO_FAILED' && /in use/.test(e.message));
    } finally {
      await first.close();
    }
  });
});
