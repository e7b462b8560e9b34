// Table tests of every schema of the file contract: a valid and several invalid documents of each file.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { activityEventSchema } from '../../dist/contract/activity.js';
import { alertsFileSchema } from '../../dist/contract/alerts.js';
import { checkinSchema } from '../../dist/contract/checkin.js';
import { daemonConfigFileSchema } from '../../dist/contract/daemon-config.js';
import { parseJsonWith } from '../../dist/contract/parse.js';
import { pmStateSchema } from '../../dist/contract/pm-state.js';
import { taskQueueSchema } from '../../dist/contract/task-queue.js';
import { workerSpecSchema } from '../../dist/contract/worker-spec.js';
import { WORKER_TYPE_DEFAULTS, workerTypesFileSchema } from '../../dist/contract/worker-types.js';

const T = '2025-11-21T10:00:00.000Z';

/** Runs each row as its own test: `valid` rows must parse, the others must fail with a message matching `error`. */
function table(schema, rows) {
  for (const row of rows) {
    test(row.name, () => {
      const text = JSON.stringify(row.doc);
      if (row.error === undefined) {
        const parsed = parseJsonWith(schema, text, 'doc.json');
        if (row.check) row.check(parsed);
      } else {
        assert.throws(() => parseJsonWith(schema, text, 'doc.json'), (/** @type {import('../../dist/errors.js').RelayError} */ error) => {
          assert.equal(error.code, 'FILE_INVALID');
          assert.match(error.message, /^doc\.json: /);
          assert.match(error.message, row.error);
          return true;
        });
      }
    });
  }
}

const spec = (over = {}) => ({
  worker_id: 'worker-implementation-001',
  worker_type: 'implementation',
  task_id: 'task-1',
  status: 'pending',
  created_at: T,
  task: { description: 'fix the bug' },
  ...over,
});

describe('worker spec', () => {
  table(workerSpecSchema, [
    { name: 'a minimal pending spec', doc: spec() },
    { name: 'task_id null', doc: spec({ task_id: null }) },
    {
      name: 'a running spec with every execution field',
      doc: spec({
        status: 'running',
        execution: { started_at: T, completed_at: null, pid: 4242, restart_count: 1, exit_code: null, signal: null, process_start_ticks: 123, boot_id: 'b' },
        error: null,
      }),
    },
    { name: 'offset timestamps are accepted', doc: spec({ created_at: '2025-11-21T12:00:00+02:00' }) },
    { name: 'worker_id with a path', doc: spec({ worker_id: '../x' }), error: /worker_id: must be a safe id/ },
    { name: 'worker_id with ".."', doc: spec({ worker_id: 'a..b' }), error: /worker_id: must not contain "\.\."/ },
    { name: 'task_id with a slash', doc: spec({ task_id: 'a/b' }), error: /task_id/ },
    { name: 'worker_type missing', doc: spec({ worker_type: undefined }), error: /worker_type/ },
    { name: 'unknown status', doc: spec({ status: 'done' }), error: /status: Invalid option/ },
    { name: 'created_at not ISO-8601', doc: spec({ created_at: 'yesterday' }), error: /created_at/ },
    { name: 'task without description', doc: spec({ task: {} }), error: /task\.description/ },
    { name: 'negative pid', doc: spec({ execution: { pid: -1 } }), error: /execution\.pid/ },
    { name: 'fractional restart_count', doc: spec({ execution: { restart_count: 1.5 } }), error: /execution\.restart_count/ },
    { name: 'an array, not an object', doc: [spec()], error: /\(top level\)/ },
  ]);

  test('unknown fields at every level survive a parse: the result is the same object', () => {
    const doc = spec({
      owner: 'ops-team',
      labels: ['a', 'b'],
      task: { description: 'd', context: { repo: 'x', files: [1, 2] } },
      execution: { pid: 7, restart_count: 0, custom_probe: { ok: true } },
      error: null,
    });
    const parsed = workerSpecSchema.parse(JSON.parse(JSON.stringify(doc)));
    assert.deepEqual(parsed, doc);
    assert.deepEqual(JSON.parse(JSON.stringify(parsed)), doc);
  });
});

describe('worker types', () => {
  table(workerTypesFileSchema, [
    {
      name: 'only command is required; the rest take their defaults',
      doc: { worker_types: { implementation: { command: ['node', 'agents/demo-agent.js', '--worker-id', '{worker_id}'] } } },
      check: (file) => {
        const type = file.worker_types.implementation;
        for (const [key, value] of Object.entries(WORKER_TYPE_DEFAULTS)) assert.equal(type[key], value, key);
        assert.equal(type.checkin_timeout_seconds, 900);
        assert.equal(type.stall_timeout_seconds, 1200);
      },
    },
    {
      name: 'the contract example',
      doc: {
        worker_types: {
          implementation: {
            command: ['node', 'agents/demo-agent.js', '--worker-id', '{worker_id}'],
            time_limit_seconds: 2700,
            checkin_timeout_seconds: 900,
            stall_timeout_seconds: 1200,
            max_restarts: 2,
            restart_backoff_seconds: 30,
            restart_backoff_max_seconds: 300,
          },
        },
      },
    },
    { name: '$comment is allowed at the top', doc: { $comment: 'notes', worker_types: {} } },
    { name: 'an unknown key in a type is rejected, naming it', doc: { worker_types: { impl: { command: ['x'], timeout: 5 } } }, error: /worker_types\.impl: unknown key "timeout"/ },
    { name: 'an unknown key at the top is rejected, naming it', doc: { worker_types: {}, workers: {} }, error: /\(top level\): unknown key "workers"/ },
    { name: 'command missing', doc: { worker_types: { impl: {} } }, error: /worker_types\.impl\.command/ },
    { name: 'command empty', doc: { worker_types: { impl: { command: [] } } }, error: /worker_types\.impl\.command: must name a program/ },
    { name: 'command as a shell string', doc: { worker_types: { impl: { command: 'node x.js' } } }, error: /worker_types\.impl\.command/ },
    { name: 'negative time limit', doc: { worker_types: { impl: { command: ['x'], time_limit_seconds: -1 } } }, error: /time_limit_seconds/ },
    { name: 'fractional max_restarts', doc: { worker_types: { impl: { command: ['x'], max_restarts: 1.5 } } }, error: /max_restarts/ },
    { name: 'a type name with a slash', doc: { worker_types: { 'a/b': { command: ['x'] } } }, error: /worker type names/ },
    { name: 'worker_types missing', doc: {}, error: /worker_types/ },
    { name: 'heartbeat output and a resume_command', doc: { worker_types: { agent: { command: ['x'], heartbeat: 'output', resume_command: ['x', '--resume', '{session_id}'] } } }, check: (file) => assert.deepEqual(file.worker_types.agent.resume_command, ['x', '--resume', '{session_id}']) },
    { name: 'an unknown heartbeat', doc: { worker_types: { agent: { command: ['x'], heartbeat: 'stdout' } } }, error: /worker_types\.agent\.heartbeat: Invalid option/ },
    { name: 'memory_limit_mb 0 is refused (absent: no limit)', doc: { worker_types: { agent: { command: ['x'], memory_limit_mb: 0 } } }, error: /worker_types\.agent\.memory_limit_mb/ },
    { name: 'resume_command empty', doc: { worker_types: { agent: { command: ['x'], resume_command: [] } } }, error: /worker_types\.agent\.resume_command: must name a program/ },
    { name: 'resume_command as a shell string', doc: { worker_types: { agent: { command: ['x'], resume_command: 'x --resume {session_id}' } } }, error: /worker_types\.agent\.resume_command/ },
  ]);
});

describe('daemon config (pm-daemon.json)', () => {
  table(daemonConfigFileSchema, [
    { name: 'an empty file is valid', doc: {} },
    {
      name: 'every key',
      doc: {
        $comment: 'x',
        loop_interval_seconds: 2.5,
        max_concurrent_workers: 0,
        debounce_ms: 50,
        mass_action_min: 3,
        resource_sample_seconds: 0,
        log_level: 'debug',
        alerts: { zombie_threshold: 3 },
        alert_hook: ['notify-send'],
        alert_hook_timeout_seconds: 5,
        metrics: { enabled: true, port: 9464, host: '127.0.0.1' },
        demo: true,
      },
    },
    { name: 'an unknown key is rejected, naming it', doc: { loop_interval: 5 }, error: /\(top level\): unknown key "loop_interval"/ },
    { name: 'an unknown alert key is rejected, naming it', doc: { alerts: { zombies: 3 } }, error: /alerts: unknown key "zombies"/ },
    { name: 'zero loop interval', doc: { loop_interval_seconds: 0 }, error: /loop_interval_seconds/ },
    { name: 'negative concurrency', doc: { max_concurrent_workers: -1 }, error: /max_concurrent_workers/ },
    { name: 'negative resource sample interval', doc: { resource_sample_seconds: -1 }, error: /resource_sample_seconds/ },
    { name: 'unknown log level', doc: { log_level: 'loud' }, error: /log_level/ },
    { name: 'metrics port out of range', doc: { metrics: { port: 70000 } }, error: /metrics\.port/ },
    { name: 'metrics on a public address', doc: { metrics: { host: '0.0.0.0' } }, error: /metrics\.host/ },
    { name: 'empty alert hook', doc: { alert_hook: [] }, error: /alert_hook/ },
  ]);
});

const checkin = (over = {}) => ({ worker_id: 'w-1', timestamp: T, status: 'in_progress', progress_pct: 40, ...over });

describe('check-in', () => {
  table(checkinSchema, [
    { name: 'a check-in', doc: checkin() },
    { name: 'with a message and extra fields', doc: checkin({ message: 'halfway', files_changed: 3 }), check: (c) => assert.equal(c.files_changed, 3) },
    { name: 'progress 0 and 100 are the bounds', doc: checkin({ progress_pct: 100, status: 'completed' }) },
    { name: 'progress over 100', doc: checkin({ progress_pct: 101 }), error: /progress_pct/ },
    { name: 'negative progress', doc: checkin({ progress_pct: -1 }), error: /progress_pct/ },
    { name: 'unknown status', doc: checkin({ status: 'running' }), error: /status: Invalid option/ },
    { name: 'worker_id with a path', doc: checkin({ worker_id: '../w' }), error: /worker_id/ },
    { name: 'timestamp missing', doc: checkin({ timestamp: undefined }), error: /timestamp/ },
  ]);
});

const task = (over = {}) => ({
  task_id: 'task-20251121-100000-abcdef',
  description: 'do it',
  priority: 'high',
  worker_type: 'implementation',
  status: 'queued',
  created_at: T,
  metadata: { retry_of: 'task-0' },
  ...over,
});

describe('task queue', () => {
  table(taskQueueSchema, [
    { name: 'an empty queue', doc: { tasks: [] } },
    { name: 'a queued and an assigned task', doc: { tasks: [task(), task({ task_id: 't2', status: 'assigned', worker_id: 'w', assigned_at: T })] } },
    { name: 'metadata defaults to {}', doc: { tasks: [task({ metadata: undefined })] }, check: (q) => assert.deepEqual(q.tasks[0].metadata, {}) },
    { name: 'tasks not an array', doc: { tasks: {} }, error: /tasks: Invalid input: expected array/ },
    { name: 'tasks missing', doc: {}, error: /tasks/ },
    { name: 'unknown priority', doc: { tasks: [task({ priority: 'urgent' })] }, error: /tasks\.0\.priority/ },
    { name: 'empty description', doc: { tasks: [task({ description: '' })] }, error: /tasks\.0\.description/ },
    { name: 'task_id with a path', doc: { tasks: [task({ task_id: '../t' })] }, error: /tasks\.0\.task_id/ },
    { name: 'metadata not an object', doc: { tasks: [task({ metadata: 'x' })] }, error: /tasks\.0\.metadata/ },
  ]);
});

const monitored = (over = {}) => ({
  worker_id: 'w-1',
  task_id: null,
  worker_type: 'implementation',
  health_state: 'healthy',
  last_checkin: T,
  checkin_count: 3,
  progress_pct: 40,
  restart_count: 0,
  pid: 1234,
  ...over,
});
const pmState = (over = {}) => ({
  pm_daemon: { pid: 99, started_at: T, last_loop: T, loops_completed: 7 },
  monitored_workers: { 'w-1': monitored() },
  metrics: { workers_started: 1 },
  configuration: { checkin_timeout_seconds: 900 },
  ...over,
});

describe('pm-state', () => {
  table(pmStateSchema, [
    { name: 'a state with one worker', doc: pmState() },
    { name: 'before the first loop', doc: pmState({ pm_daemon: { pid: 1, started_at: T, last_loop: null, loops_completed: 0 }, monitored_workers: {} }) },
    { name: 'every health state', doc: pmState({ monitored_workers: Object.fromEntries(['starting', 'healthy', 'late', 'stalled', 'zombie', 'exited', 'backoff'].map((h) => [h, monitored({ worker_id: h, health_state: h })])) }) },
    { name: 'unknown health state', doc: pmState({ monitored_workers: { 'w-1': monitored({ health_state: 'dead' }) } }), error: /monitored_workers\.w-1\.health_state/ },
    { name: 'pm_daemon missing', doc: pmState({ pm_daemon: undefined }), error: /pm_daemon/ },
    { name: 'negative loops_completed', doc: pmState({ pm_daemon: { pid: 1, started_at: T, last_loop: null, loops_completed: -1 } }), error: /pm_daemon\.loops_completed/ },
    { name: 'monitored_workers as an array', doc: pmState({ monitored_workers: [] }), error: /monitored_workers/ },
  ]);
});

const event = (over = {}) => ({ timestamp: T, event: 'worker_started', worker_id: 'w-1', data: { pid: 3 }, ...over });

describe('activity event', () => {
  table(activityEventSchema, [
    { name: 'a worker event', doc: event() },
    { name: 'without worker_id and task_id', doc: event({ worker_id: undefined, event: 'pm_started' }) },
    { name: 'a type emit-event made up', doc: event({ event: 'deploy.finished' }) },
    { name: 'an upper-case type', doc: event({ event: 'WorkerStarted' }), error: /event/ },
    { name: 'a type with a space', doc: event({ event: 'worker started' }), error: /event/ },
    { name: 'data missing', doc: event({ data: undefined }), error: /data/ },
    { name: 'timestamp not ISO-8601', doc: event({ timestamp: '1700000000' }), error: /timestamp/ },
  ]);
});

const alert = (over = {}) => ({
  id: 'alert-1',
  type: 'zombie_threshold',
  severity: 'critical',
  status: 'active',
  message: '10 zombies',
  metric_value: 10,
  threshold: 10,
  created_at: T,
  resolved_at: null,
  worker_ids: ['w-1'],
  ...over,
});

describe('health alerts', () => {
  table(alertsFileSchema, [
    { name: 'no alerts', doc: { alerts: [] } },
    { name: 'an active and a resolved alert', doc: { alerts: [alert(), alert({ id: 'alert-2', status: 'resolved', resolved_at: T })] } },
    { name: 'status "open"', doc: { alerts: [alert({ status: 'open' })] }, error: /alerts\.0\.status/ },
    { name: 'unknown severity', doc: { alerts: [alert({ severity: 'high' })] }, error: /alerts\.0\.severity/ },
    { name: 'metric_value as text', doc: { alerts: [alert({ metric_value: '10' })] }, error: /alerts\.0\.metric_value/ },
    { name: 'worker_ids missing', doc: { alerts: [alert({ worker_ids: undefined })] }, error: /alerts\.0\.worker_ids/ },
    { name: 'alerts missing', doc: {}, error: /alerts/ },
  ]);
});

test('text that is not JSON is reported with the file and the parser reason', () => {
  assert.throws(() => parseJsonWith(taskQueueSchema, '{"tasks": [', '/h/coordination/task-queue.json'), (/** @type {import('../../dist/errors.js').RelayError} */ error) => {
    assert.equal(error.code, 'FILE_INVALID');
    assert.match(error.message, /^\/h\/coordination\/task-queue\.json: not valid JSON \(.+\)$/);
    return true;
  });
});
