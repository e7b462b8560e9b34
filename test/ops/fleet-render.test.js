// The fleet view's text: pure, so a table of views in and lines out.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { printable, renderFleet } from '../../dist/ops/fleet-render.js';

/** @typedef {import('../../dist/fleet/hosts.js').FleetView} FleetView */
/** @typedef {import('../../dist/fleet/hosts.js').FleetHost} FleetHost */
/** @typedef {import('../../dist/fleet/hosts.js').FleetWorker} FleetWorker */

/** @param {string} id @param {FleetHost['state']} state @param {Partial<FleetHost>} [fields] @returns {FleetHost} */
const host = (id, state, fields = {}) => ({
  host_id: id, state, pid: 100, home: '/srv', started_at: '2026-01-01T00:00:00.000Z', last_seen: '2026-01-01T00:00:00.000Z',
  seconds_since_seen: 2, stopped_at: null, slots_used: 3, max_concurrent_workers: 4, leases: 3, dispatch_paused: false, workers: 1, ...fields,
});
/** @param {string} hostId @param {FleetWorker['host_state']} hostState @param {Partial<FleetWorker>} [fields] @returns {FleetWorker} */
const worker = (hostId, hostState, fields = {}) => ({
  worker_id: `worker-${hostId}`, task_id: 'task-1', worker_type: 'impl', status: 'running', health: 'healthy', pid: 4242, restart_count: 1, job_id: '9', host_id: hostId, host_state: hostState, ...fields,
});
/** @param {Partial<FleetView>} [fields] @returns {FleetView} */
const view = (fields = {}) => ({
  generated_at: '2026-11-30T10:00:00.000Z',
  queue: { name: 'commit-relay', paused: false, waiting: 5, active: 3, delayed: 1, failed: 2, completed: 40 },
  hosts: [host('a', 'alive'), host('b', 'lost', { seconds_since_seen: 125 })],
  workers: [worker('a', 'alive'), worker('b', 'lost', { task_id: null, health: null, pid: null })],
  problems: [],
  ...fields,
});

describe('renderFleet', () => {
  test('a hosts table, the queue line, a workers table; a lost host says so on its rows', () => {
    const lines = renderFleet(view()).split('\n');
    assert.equal(lines[0], 'commit-relay fleet  2026-11-30 10:00:00Z');
    assert.equal(lines[1], 'queue    commit-relay running  waiting 5  active 3  delayed 1  failed 2  completed 40');
    assert.equal(lines[2], 'hosts    2 (1 alive, 1 lost, 0 stopped)');
    assert.match(lines[4] ?? '', /^HOST {2}STATE {2}LAST SEEN {2}SLOTS {2}WORKERS {2}LEASES {2}DISPATCH {2}PID$/);
    assert.match(lines[5] ?? '', /^a {5}alive {5}2s ago {4}3\/4 {8}1 {7}3 {2}on {8}100$/);
    assert.match(lines[6] ?? '', /^b {5}lost {6}2m ago .* LOST: no heartbeat for 2m$/);
    assert.match(lines[8] ?? '', /^HOST {2}WORKER {4}TASK {4}TYPE {2}STATUS {3}HEALTH {4}PID {2}RESTARTS$/);
    assert.match(lines[9] ?? '', /^a {5}worker-a {2}task-1 {2}impl {2}running {2}healthy {2}4242 {9}1$/);
    assert.match(lines[10] ?? '', /^b {5}worker-b {2}- {7}impl {2}running {2}- {11}- {9}1 {2}host lost: as last reported$/);
  });

  test('a paused queue, no hosts, no workers, problems', () => {
    const text = renderFleet(view({ queue: { ...view().queue, paused: true }, hosts: [], workers: [], problems: ['host x: its entry is not JSON'] }));
    assert.match(text, /^queue {4}commit-relay paused {2}waiting 5/m);
    assert.match(text, /^no hosts have published/m);
    assert.match(text, /^no workers$/m);
    assert.match(text, /^! host x: its entry is not JSON$/m);
  });

  test('colour only when asked; ids cut only with capIds', () => {
    const long = `worker-${'x'.repeat(60)}-017`;
    const v = view({ workers: [worker('a', 'alive', { worker_id: long })] });
    assert.doesNotMatch(renderFleet(v), /\u001b\[/); // eslint-disable-line no-control-regex -- the escape is the point
    assert.match(renderFleet(v, { color: true }), /\u001b\[1;31mlost/); // eslint-disable-line no-control-regex -- the escape is the point
    assert.ok(renderFleet(v).includes(long));
    const capped = renderFleet(v, { capIds: true });
    assert.ok(!capped.includes(long));
    assert.match(capped, /worker-x+…x+-017/);
  });

  test('printable escapes C0, C1, DEL and bidi controls, and keeps the rest', () => {
    assert.equal(printable('ok-id.1_ü'), 'ok-id.1_ü');
    assert.equal(printable('a\nb\u001b[2J\u009b1m\u007f\u202e'), 'a\\nb\\u001b[2J\\u009b1m\\u007f\\u202e');
  });
});
