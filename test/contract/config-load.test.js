// Configuration is parsed once: defaults < pm-daemon.json < environment < flags, into a frozen object.
import assert from 'node:assert/strict';
import { unlinkSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadDaemonSettings, loadWorkerTypes } from '../../dist/config/load.js';
import { withHome } from '../helpers/scope.js';

const SCOPE = { types: { implementation: { command: ['node', 'w.js'] }, review: { command: ['node', 'r.js'], max_restarts: 0 } } };

const writeDaemonConfig = ({ paths }, value) => writeFileSync(paths.daemonConfig, JSON.stringify(value));

test('defaults apply when there is no pm-daemon.json and no environment', () => withHome(SCOPE, async ({ paths }) => {
  const s = loadDaemonSettings(paths, {});
  assert.equal(s.loopIntervalSeconds, 5);
  assert.equal(s.maxConcurrentWorkers, 4);
  assert.equal(s.debounceMs, 10);
  assert.equal(s.logLevel, 'info');
  assert.equal(s.alerts.zombie_threshold, 10);
  assert.deepEqual(s.metrics, { enabled: false, port: 9464, host: '127.0.0.1' });
  assert.equal(s.demo, false);
  assert.ok(Object.isFrozen(s) && Object.isFrozen(s.alerts) && Object.isFrozen(s.metrics));
}));

test('the file overrides defaults, the environment overrides the file, flags override the environment', () => withHome(SCOPE, async ({ paths }) => {
  writeDaemonConfig({ paths }, { loop_interval_seconds: 2, max_concurrent_workers: 8, debounce_ms: 40, log_level: 'warn', alerts: { zombie_threshold: 4 }, metrics: { enabled: false, port: 9000 } });
  const fromFile = loadDaemonSettings(paths, {});
  assert.deepEqual([fromFile.loopIntervalSeconds, fromFile.maxConcurrentWorkers, fromFile.debounceMs, fromFile.logLevel, fromFile.alerts.zombie_threshold], [2, 8, 40, 'warn', 4]);
  assert.equal(fromFile.metrics.port, 9000);

  const env = { PM_LOOP_INTERVAL: '0.5', WORKER_CONCURRENCY: '3', PM_DEBOUNCE_MS: '0', PM_LOG_LEVEL: 'debug', ZOMBIE_THRESHOLD: '2', PM_METRICS: 'true', PM_METRICS_PORT: '9100' };
  const fromEnv = loadDaemonSettings(paths, env);
  assert.deepEqual([fromEnv.loopIntervalSeconds, fromEnv.maxConcurrentWorkers, fromEnv.debounceMs, fromEnv.logLevel, fromEnv.alerts.zombie_threshold], [0.5, 3, 0, 'debug', 2]);
  assert.deepEqual(fromEnv.metrics, { enabled: true, port: 9100, host: '127.0.0.1' });

  const fromFlags = loadDaemonSettings(paths, env, { loopIntervalSeconds: 1, maxConcurrentWorkers: 1, logLevel: 'error', metricsPort: 9200, demo: true });
  assert.deepEqual([fromFlags.loopIntervalSeconds, fromFlags.maxConcurrentWorkers, fromFlags.logLevel, fromFlags.metrics.port, fromFlags.demo], [1, 1, 'error', 9200, true]);
}));

test('PM_METRICS_PORT alone turns metrics on; PM_METRICS=false keeps them off', () => withHome(SCOPE, async ({ paths }) => {
  assert.equal(loadDaemonSettings(paths, { PM_METRICS_PORT: '0' }).metrics.enabled, true);
  assert.equal(loadDaemonSettings(paths, { PM_METRICS: 'false' }).metrics.enabled, false);
}));

test('an empty environment variable counts as unset', () => withHome(SCOPE, async ({ paths }) => {
  writeDaemonConfig({ paths }, { loop_interval_seconds: 7 });
  assert.equal(loadDaemonSettings(paths, { PM_LOOP_INTERVAL: '' }).loopIntervalSeconds, 7);
}));

/** @type {Array<[string, string, RegExp]>} */
const badEnv = [
  ['PM_LOOP_INTERVAL', '0', /environment PM_LOOP_INTERVAL: expected a positive number, got `0`/],
  ['PM_LOOP_INTERVAL', 'fast', /environment PM_LOOP_INTERVAL: expected a positive number, got `fast`/],
  ['WORKER_CONCURRENCY', '-1', /environment WORKER_CONCURRENCY: expected a whole number >= 0, got `-1`/],
  ['WORKER_CONCURRENCY', '2.5', /WORKER_CONCURRENCY/],
  ['PM_DEBOUNCE_MS', 'x', /PM_DEBOUNCE_MS/],
  ['PM_LOG_LEVEL', 'loud', /environment PM_LOG_LEVEL: expected one of .*, got `loud`/],
  ['ZOMBIE_THRESHOLD', '0', /environment ZOMBIE_THRESHOLD: expected a whole number > 0, got `0`/],
  ['PM_METRICS', 'maybe', /environment PM_METRICS: expected true or false, got `maybe`/],
  ['PM_METRICS_PORT', '70000', /environment PM_METRICS_PORT: expected a port number 0\.\.65535, got `70000`/],
];
for (const [name, value, message] of badEnv) {
  test(`${name}=${value} is refused, naming the variable and the value`, () => withHome(SCOPE, async ({ paths }) => {
    assert.throws(() => loadDaemonSettings(paths, { [name]: value }), (/** @type {import('../../dist/errors.js').RelayError} */ error) => {
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.match(error.message, message);
      return true;
    });
  }));
}

test('an unknown key in pm-daemon.json is refused, naming the key and the file', () => withHome(SCOPE, async ({ paths }) => {
  writeDaemonConfig({ paths }, { loop_interval: 3 });
  assert.throws(() => loadDaemonSettings(paths, {}), (/** @type {import('../../dist/errors.js').RelayError} */ error) => {
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.equal(error.message, `${paths.daemonConfig}: (top level): unknown key "loop_interval"`);
    return true;
  });
}));

test('notifications: defaults, the webhook events from notifications.events, the URL redacted in JSON; each missing piece one line naming it', () => withHome(SCOPE, async ({ paths }) => {
  writeDaemonConfig({ paths }, { notifications: { events: ['worker_failed'], hook: ['notify'], webhook: { url: 'https://hooks.example.com/services/SECRET' } } });
  const { notifications } = loadDaemonSettings(paths, {});
  assert.deepEqual(JSON.parse(JSON.stringify(notifications)), {
    hook: { argv: ['notify'], events: ['worker_failed'], timeoutMs: 10_000 },
    webhook: { url: '[redacted]', events: ['worker_failed'], timeoutMs: 10_000 },
    maxConcurrent: 2,
    backlog: 100,
  });
  assert.equal(notifications?.webhook?.url.reveal(), 'https://hooks.example.com/services/SECRET');
  /** @type {[Record<string, unknown>, RegExp][]} */
  const cases = [
    [{ events: ['worker_failed'] }, /notifications: set notifications\.hook, notifications\.webhook or both$/],
    [{ hook: ['notify'] }, /notifications\.events: name the events the hook runs for/],
    [{ webhook: { url: 'http://127.0.0.1:1/x' } }, /notifications\.webhook\.events: name the events to post/],
    [{ events: ['Worker Failed'], hook: ['notify'] }, /notifications\.events\.0: expected event or alert types/],
    [{ events: ['*'], webhook: { url: 'javascript:alert(1)' } }, /notifications\.webhook\.url: expected an http:\/\/ or https:\/\/ URL$/],
  ];
  for (const [config, message] of cases) {
    writeDaemonConfig({ paths }, { notifications: config });
    assert.throws(() => loadDaemonSettings(paths, {}), (/** @type {import('../../dist/errors.js').RelayError} */ error) => error.code === 'CONFIG_INVALID' && message.test(error.message) && !error.message.includes('\n'), JSON.stringify(config));
  }
}));

test('worker types: defaults filled in, frozen, implementation is the default type, unknown names refused', () => withHome(SCOPE, async ({ paths }) => {
  const types = loadWorkerTypes(paths);
  assert.equal(types.defaultType, 'implementation');
  assert.equal(types.get('review').max_restarts, 0);
  assert.equal(types.get('implementation').checkin_timeout_seconds, 900);
  assert.ok(Object.isFrozen(types.types) && Object.isFrozen(types.get('review')));
  assert.throws(() => types.get('nope'), /unknown worker type "nope": .*worker-types\.json defines "implementation", "review"/);
}));

test('worker types: an unknown key is refused, naming the key and the file', () => withHome(SCOPE, async ({ paths }) => {
  writeFileSync(paths.workerTypes, JSON.stringify({ worker_types: { implementation: { command: ['x'], retries: 3 } } }));
  assert.throws(() => loadWorkerTypes(paths), (/** @type {import('../../dist/errors.js').RelayError} */ error) => {
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.equal(error.message, `${paths.workerTypes}: worker_types.implementation: unknown key "retries"`);
    return true;
  });
}));

test('worker types: a missing or empty file is an error naming it', () => withHome(SCOPE, async ({ paths }) => {
  writeFileSync(paths.workerTypes, '');
  assert.throws(() => loadWorkerTypes(paths), { code: 'CONFIG_INVALID', message: new RegExp(`^${paths.workerTypes}: not valid JSON`) });
  unlinkSync(paths.workerTypes);
  assert.throws(() => loadWorkerTypes(paths), { code: 'CONFIG_INVALID', message: `${paths.workerTypes}: missing (it defines what each worker type runs)` });
}));
