import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluateAlerts, newAlertId, trimResolved } from '../../dist/ops/alerts.js';

const T0 = Date.parse('2025-11-21T10:00:00.000Z');
const thresholds = {
  zombie_threshold: 10,
  stalled_threshold: 5,
  restart_storm_threshold: 20,
  failure_rate_threshold: 0.5,
  failure_rate_min_samples: 5,
  queue_depth_threshold: 100,
};
const ids = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const quiet = { zombieIds: [], stalledIds: [], restartsLastHour: 0, completedLastHour: 0, failedLastHour: 0, queueDepth: 0 };
const obs = (fields = {}, now = T0) => ({ now, thresholds, ...quiet, ...fields });

function deepFreeze(value) {
  if (value && typeof value === 'object') {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

describe('evaluateAlerts: each threshold boundary', () => {
  const cases = [
    { type: 'zombie_threshold', below: { zombieIds: ids('z', 9) }, at: { zombieIds: ids('z', 10) }, metric: 10, severity: 'critical', workers: 10 },
    { type: 'stalled_workers', below: { stalledIds: ids('s', 4) }, at: { stalledIds: ids('s', 5) }, metric: 5, severity: 'warning', workers: 5 },
    { type: 'restart_storm', below: { restartsLastHour: 19 }, at: { restartsLastHour: 20 }, metric: 20, severity: 'warning', workers: 0 },
    { type: 'failure_rate', below: { completedLastHour: 6, failedLastHour: 4 }, at: { completedLastHour: 5, failedLastHour: 5 }, metric: 0.5, severity: 'warning', workers: 0 },
    // Queue depth fires above its threshold, not at it.
    { type: 'queue_depth', below: { queueDepth: 100 }, at: { queueDepth: 101 }, metric: 101, severity: 'warning', workers: 0 },
    // Any worker waiting for a person.
    { type: 'workers_blocked', below: { blocked: [] }, at: { blocked: [{ workerId: 'b-1', message: 'Claude needs your permission to use Bash' }] }, metric: 1, severity: 'warning', workers: 1 },
  ];
  for (const c of cases) {
    test(`${c.type}: quiet just below, raised at the boundary`, () => {
      const below = evaluateAlerts([], obs(c.below));
      assert.deepEqual(below.alerts, []);
      assert.deepEqual(below.raised, []);
      const at = evaluateAlerts([], obs(c.at));
      assert.equal(at.raised.length, 1);
      const [alert] = at.raised;
      assert.equal(alert.type, c.type);
      assert.equal(alert.status, 'active');
      assert.equal(alert.severity, c.severity);
      assert.equal(alert.metric_value, c.metric);
      assert.equal(alert.worker_ids.length, c.workers);
      assert.equal(alert.created_at, '2025-11-21T10:00:00.000Z');
      assert.equal(alert.resolved_at, null);
      assert.match(alert.id, new RegExp(`^${c.type}-20251121T100000Z-[0-9a-f]{6}$`));
      assert.deepEqual(at.alerts, at.raised);
    });
  }
});

describe('evaluateAlerts: lifecycle', () => {
  test('workers_blocked names each worker and what it asks, and resolves when none is blocked', () => {
    const blocked = [{ workerId: 'b-1', message: 'Claude needs your permission to use Bash' }, { workerId: 'b-2', message: null }];
    const first = evaluateAlerts([], obs({ blocked }));
    const [alert] = first.raised;
    assert.equal(alert.type, 'workers_blocked');
    assert.deepEqual(alert.worker_ids, ['b-1', 'b-2']);
    assert.equal(alert.message, '2 workers waiting for a person: b-1 (Claude needs your permission to use Bash), b-2');
    assert.deepEqual(alert.blocked, [{ worker_id: 'b-1', message: 'Claude needs your permission to use Bash' }, { worker_id: 'b-2', message: null }]);
    const steady = evaluateAlerts(first.alerts, obs({ blocked }, T0 + 1000));
    assert.deepEqual([steady.raised, steady.resolved], [[], []]);
    const cleared = evaluateAlerts(steady.alerts, obs({ blocked: [] }, T0 + 2000));
    assert.equal(cleared.resolved.length, 1);
    assert.equal(cleared.resolved[0].id, alert.id);
  });

  test('raised once, updated (not duplicated) while it holds, resolved when it clears', () => {
    const first = evaluateAlerts([], obs({ zombieIds: ids('z', 10) }));
    assert.equal(first.raised.length, 1);
    const id = first.raised[0].id;

    const second = evaluateAlerts(first.alerts, obs({ zombieIds: ids('z', 12) }, T0 + 5000));
    assert.deepEqual(second.raised, []);
    assert.deepEqual(second.resolved, []);
    assert.equal(second.alerts.length, 1);
    assert.equal(second.alerts[0].id, id);
    assert.equal(second.alerts[0].metric_value, 12);
    assert.deepEqual(second.alerts[0].worker_ids, ids('z', 12));
    assert.equal(second.alerts[0].created_at, first.alerts[0].created_at);
    assert.match(second.alerts[0].message, /12 zombie workers/);

    const third = evaluateAlerts(second.alerts, obs({ zombieIds: ids('z', 3) }, T0 + 10_000));
    assert.equal(third.resolved.length, 1);
    assert.equal(third.alerts.length, 1);
    assert.equal(third.alerts[0].status, 'resolved');
    assert.equal(third.alerts[0].resolved_at, '2025-11-21T10:00:10.000Z');
    assert.equal(third.alerts[0].id, id);

    const fourth = evaluateAlerts(third.alerts, obs({}, T0 + 15_000));
    assert.deepEqual(fourth.raised, []);
    assert.deepEqual(fourth.resolved, []);
    assert.deepEqual(fourth.alerts, third.alerts);

    const again = evaluateAlerts(fourth.alerts, obs({ zombieIds: ids('z', 11) }, T0 + 20_000));
    assert.equal(again.raised.length, 1);
    assert.notEqual(again.raised[0].id, id);
    assert.deepEqual(
      again.alerts.map((a) => a.status),
      ['resolved', 'active'],
    );
  });

  test('a steady condition changes nothing (no rewrite every pass)', () => {
    const first = evaluateAlerts([], obs({ queueDepth: 150 }));
    const second = evaluateAlerts(first.alerts, obs({ queueDepth: 150 }, T0 + 60_000));
    assert.deepEqual(second.alerts, first.alerts);
  });

  test('several types at once: each raised once, ids unique', () => {
    const all = obs({ zombieIds: ids('z', 10), stalledIds: ids('s', 5), restartsLastHour: 20, completedLastHour: 0, failedLastHour: 5, queueDepth: 101 });
    const result = evaluateAlerts([], all);
    assert.deepEqual(result.raised.map((a) => a.type).sort(), ['failure_rate', 'queue_depth', 'restart_storm', 'stalled_workers', 'zombie_threshold']);
    assert.equal(new Set(result.raised.map((a) => a.id)).size, 5);
    const again = evaluateAlerts(result.alerts, { ...all, now: T0 + 1000 });
    assert.equal(again.raised.length, 0);
    assert.equal(again.alerts.length, 5);
  });

  test('does not mutate its input', () => {
    const first = evaluateAlerts([], obs({ zombieIds: ids('z', 10) }));
    const frozen = deepFreeze(JSON.parse(JSON.stringify(first.alerts)));
    const copy = JSON.parse(JSON.stringify(frozen));
    evaluateAlerts(frozen, obs({ zombieIds: ids('z', 20) }, T0 + 1000));
    evaluateAlerts(frozen, obs({}, T0 + 2000));
    assert.deepEqual(frozen, copy);
  });

  test('alerts of unknown types are kept as they are; a duplicate active alert is resolved', () => {
    /** @type {import('../../dist/contract/alerts.js').Alert} */
    const foreign = { id: 'x-1', type: 'disk_full', severity: 'warning', status: 'active', message: 'm', metric_value: 1, threshold: 1, created_at: '2025-11-21T09:00:00.000Z', resolved_at: null, worker_ids: [] };
    const first = evaluateAlerts([], obs({ queueDepth: 200 }));
    const dup = { ...first.alerts[0], id: 'queue_depth-dup' };
    const result = evaluateAlerts([foreign, ...first.alerts, dup], obs({ queueDepth: 200 }, T0 + 1000));
    assert.deepEqual(result.alerts[0], foreign);
    assert.equal(result.alerts.filter((a) => a.type === 'queue_depth' && a.status === 'active').length, 1);
    assert.equal(result.resolved.length, 1);
    assert.equal(result.resolved[0].id, 'queue_depth-dup');
    assert.equal(result.resolved[0].resolution, 'duplicate');
    assert.deepEqual(result.raised, []);
  });
});

describe('evaluateAlerts: failure rate needs enough samples', () => {
  const cases = [
    { name: 'all failed but too few samples', completed: 0, failed: 4, fires: false },
    { name: 'exactly the sample minimum, 60% failed', completed: 2, failed: 3, fires: true },
    { name: 'enough samples, 40% failed', completed: 3, failed: 2, fires: false },
    { name: 'exactly the threshold (50%)', completed: 5, failed: 5, fires: true },
    { name: 'no samples at all', completed: 0, failed: 0, fires: false },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const result = evaluateAlerts([], obs({ completedLastHour: c.completed, failedLastHour: c.failed }));
      assert.equal(result.raised.length, c.fires ? 1 : 0);
      if (c.fires) assert.equal(result.raised[0].samples, c.completed + c.failed);
    });
  }

  test('a zero threshold never fires without a failure', () => {
    const zero = { ...thresholds, failure_rate_threshold: 0 };
    assert.equal(evaluateAlerts([], { ...obs({ completedLastHour: 50 }), thresholds: zero }).raised.length, 0);
    assert.equal(evaluateAlerts([], { ...obs({ completedLastHour: 50, failedLastHour: 1 }), thresholds: zero }).raised.length, 1);
  });

  test('an active failure-rate alert resolves when the samples drop below the minimum', () => {
    const raised = evaluateAlerts([], obs({ failedLastHour: 6 }));
    const later = evaluateAlerts(raised.alerts, obs({ failedLastHour: 2 }, T0 + 3600_000));
    assert.equal(later.resolved.length, 1);
  });
});

describe('resolved history is bounded', () => {
  test('keeps every active alert and the newest resolved ones', () => {
    /** @type {import('../../dist/contract/alerts.js').Alert[]} */
    const resolved = Array.from({ length: 250 }, (_, i) => ({
      id: `old-${i}`,
      type: 'queue_depth',
      severity: 'warning',
      status: 'resolved',
      message: 'm',
      metric_value: 101,
      threshold: 100,
      created_at: new Date(T0 - 10_000_000 + i * 1000).toISOString(),
      resolved_at: new Date(T0 - 9_000_000 + i * 1000).toISOString(),
      worker_ids: [],
    }));
    const result = evaluateAlerts(resolved, obs({ zombieIds: ids('z', 10) }));
    assert.equal(result.alerts.filter((a) => a.status === 'resolved').length, 200);
    assert.equal(result.alerts.filter((a) => a.status === 'active').length, 1);
    assert.equal(result.alerts[0].id, 'old-50');
    assert.equal(evaluateAlerts(resolved, obs(), { keepResolved: 10 }).alerts.length, 10);
    assert.equal(trimResolved(resolved, 300).length, 250);
  });

  test('alert ids made at the same instant differ', () => {
    const made = new Set(Array.from({ length: 100 }, () => newAlertId('zombie_threshold', T0)));
    assert.equal(made.size, 100);
  });
});
