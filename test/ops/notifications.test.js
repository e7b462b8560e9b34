// Notifications (pm-daemon.json `notifications`): the event hook and the webhook, against a real daemon.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { Secret } from '../../dist/config/load.js';
import { isChosen, Notifier } from '../../dist/daemon/notifications.js';
import { summarizeNotification } from '../../dist/ops/webhook.js';
import { events } from '../helpers/daemon.js';
import { fixtureCommand, QUICK, run, waitFor } from '../helpers/home.js';
import { isAlive } from '../helpers/processes.js';
import { withHome } from '../helpers/scope.js';
import { uniqueId, writePendingSpec } from '../helpers/specs.js';

/**
 * A local webhook: every POST's JSON body, in order. `hold`: a request is answered only when the test
 * calls its entry in `held` (so deliveries pile up).
 * @param {{ hold?: boolean }} [options]
 */
async function startWebhookServer({ hold = false } = {}) {
  /** @type {any[]} */
  const bodies = [];
  /** @type {(() => void)[]} */
  const held = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      bodies.push(JSON.parse(body));
      if (hold) held.push(() => res.end('ok'));
      else res.end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  const close = () => {
    for (const release of held.splice(0)) release();
    return new Promise((resolve) => server.close(resolve));
  };
  return { bodies, held, url: `http://127.0.0.1:${address.port}/services/T0/SECRET-TOKEN`, close };
}

/** The hook's lines: [event type from the environment, the event from stdin]. @param {string} file @returns {[string, any][]} */
function hookLines(file) {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [type = '', json = '{}'] = line.split('\t');
      return [type, JSON.parse(json)];
    });
}

test('the event hook and the webhook get the chosen events, from the daemon and from commands; a hook that hangs is killed and the daemon goes on', async () => {
  const webhook = await startWebhookServer();
  try {
    const types = { fails: { command: fixtureCommand('exit-with.sh', '1'), ...QUICK, max_restarts: 0 } };
    await withHome({ types }, async (t) => {
      const hookFile = join(t.home, 'hook-events.txt');
      const config = {
        notifications: {
          events: ['worker_failed', 'dispatch_paused', 'hook.hang'],
          hook: fixtureCommand('notify-hook.sh', hookFile, 'hook.hang'),
          timeout_seconds: 1,
          webhook: { url: webhook.url, events: ['worker_failed'], timeout_seconds: 2 },
        },
      };
      writeFileSync(t.paths.daemonConfig, JSON.stringify(config));
      await t.startDaemon();
      const id = uniqueId('n-fail');
      writePendingSpec(t.home, id, { workerType: 'fails' });

      // From the daemon: worker_failed, to the hook (env and stdin) and to the webhook.
      await waitFor(() => hookLines(hookFile).some(([type, e]) => type === 'worker_failed' && e.worker_id === id), { what: 'the hook to get worker_failed', timeoutMs: 15_000 });
      const body = await waitFor(() => webhook.bodies.find((b) => b.event?.worker_id === id), { what: 'the webhook post', timeoutMs: 10_000 });
      assert.match(body.text, /worker_failed/);
      assert.ok(body.text.includes(id), body.text);
      assert.equal(body.event.event, 'worker_failed');

      // A hook that hangs is killed after its timeout (1 s) and reported; meanwhile the daemon goes on and
      // an event a command appends (pause-dispatch: dispatch_paused) reaches the hook, and the sender runs
      // as a command (as an alert hook would run it) with an alert on stdin.
      appendFileSync(t.paths.activity, `${JSON.stringify({ timestamp: new Date().toISOString(), event: 'hook.hang', data: {} })}\n`);
      const alert = { id: 'a-1', type: 'workers_blocked', severity: 'warning', status: 'active', message: '2 workers wait for a person', worker_ids: ['w-1'] };
      const [paused, sent] = await Promise.all([run(t.home, ['--reason', 'maintenance'], { script: 'pause-dispatch.sh' }), run(t.home, ['notify-webhook', '--url', webhook.url], { input: JSON.stringify(alert) })]);
      assert.equal(paused.code, 0, paused.stderr);
      assert.equal(sent.code, 0, sent.stderr);
      const pid = Number(await waitFor(() => readFileSync(`${hookFile}.pid`, 'utf8').trim(), { what: 'the hanging hook to start' }));
      const failed = await waitFor(() => events(t.home).find((e) => e.event === 'notification_failed'), { what: 'notification_failed', timeoutMs: 10_000 });
      assert.deepEqual([failed.data.sink, failed.data.for_event], ['hook', 'hook.hang']);
      assert.match(failed.data.error, /did not finish within 1000 ms/);
      await waitFor(() => !isAlive(pid), { what: 'the hanging hook to be killed', timeoutMs: 5000 });
      const [, pausedEvent] = await waitFor(() => hookLines(hookFile).find(([type]) => type === 'dispatch_paused'), { what: 'the hook to get dispatch_paused', timeoutMs: 10_000 });
      assert.equal(pausedEvent.data.reason, 'maintenance');
      const alertBody = await waitFor(() => webhook.bodies.find((b) => b.event?.id === 'a-1'), { what: 'the alert post' });
      assert.match(alertBody.text, /workers_blocked.*2 workers wait for a person/);
      assert.deepEqual(webhook.bodies.map((b) => b.event?.event ?? 'alert'), ['worker_failed', 'alert'], 'the daemon posts only the events the webhook chose');

      // The webhook's URL (its secret) is in no log and no event.
      const log = readFileSync(t.paths.daemonLog, 'utf8');
      const activity = readFileSync(t.paths.activity, 'utf8');
      assert.ok(!log.includes('SECRET-TOKEN') && !activity.includes('SECRET-TOKEN'), 'the URL is not logged');
      assert.match(log, /notifications \(hook\): hook\.hang: neither an event nor an alert type/, 'a name the program never emits is pointed out at start');
    });
  } finally {
    await webhook.close();
  }
});

test('a webhook URL that is not http(s) is one line naming the field at start, and nothing starts', () =>
  withHome({ daemonConfig: { notifications: { events: ['worker_failed'], webhook: { url: 'ftp://example.com/SECRET-TOKEN' } } } }, async (t) => {
    const [exit, bad] = await Promise.all([t.spawnDaemon().exited, run(t.home, ['notify-webhook', '--url', 'file:///etc/passwd'], { input: '{}' })]);
    assert.notEqual(exit.code, 0);
    const stderr = exit.stderr().trim();
    assert.equal(stderr.split('\n').length, 1, stderr);
    assert.match(stderr, /notifications\.webhook\.url: expected an http:\/\/ or https:\/\/ URL/);
    assert.ok(!stderr.includes('SECRET-TOKEN'), 'the URL is not echoed');
    assert.ok(!existsSync(t.paths.pmState), 'no pass was made');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--url: expected an http:\/\/ or https:\/\/ URL/);
  }));

test('deliveries are bounded: a few at once, a bounded backlog, the rest dropped and counted with one warning; chosen events and the summary line', async () => {
  const { bodies, held, url, close } = await startWebhookServer({ hold: true });
  /** @type {string[]} */
  const warnings = [];
  const logger = /** @type {any} */ ({ warn: (/** @type {unknown} */ _o, /** @type {string} */ msg) => warnings.push(msg), info: () => undefined });
  const settings = { hook: undefined, webhook: { url: new Secret(url), events: ['worker_failed', 'workers_blocked'], timeoutMs: 5000 }, maxConcurrent: 1, backlog: 1 };
  const notifier = new Notifier({ paths: /** @type {any} */ ({ home: '/' }), settings, logger, emit: () => undefined });
  const event = (/** @type {string} */ type, /** @type {Record<string, unknown>} */ data = {}) => ({ timestamp: new Date().toISOString(), event: type, worker_id: 'w-<1>', task_id: 't-1', data });
  try {
    notifier.handle(event('worker_started'));
    for (let i = 0; i < 4; i += 1) notifier.handle(event('worker_failed', { reason: `r${i}` }));
    notifier.handle(event('alert_raised', { type: 'workers_blocked', message: 'blocked' }));
    await waitFor(() => held.length === 1, { what: 'the first post' });
    assert.deepEqual(notifier.dropped(), { webhook: 3 }, 'of five chosen, one runs, one waits, three are dropped');
    assert.equal(warnings.length, 1, 'one warning for the overflow');
    assert.match(warnings[0] ?? '', /backlog of 1 is full/);
    held.shift()?.();
    await waitFor(() => held.length === 1 && bodies.length === 2, { what: 'the waiting post' });
    held.shift()?.();
    await notifier.close();
    assert.deepEqual(bodies.map((b) => b.event.data.reason), ['r0', 'r1']);
    assert.equal(bodies[0].text, 'commit-relay: worker_failed · worker w-&lt;1&gt; · task t-1 · reason: r0');
  } finally {
    await close();
  }
  const chosen = (/** @type {string[]} */ names, /** @type {string} */ type, /** @type {Record<string, unknown>} */ data = {}) => isChosen(names, event(type, data));
  assert.equal(chosen(['*'], 'pm_started'), true);
  assert.equal(chosen(['workers_blocked'], 'alert_raised', { type: 'workers_blocked' }), true);
  assert.equal(chosen(['workers_blocked'], 'alert_resolved', { type: 'workers_blocked' }), false);
  assert.equal(chosen(['worker_failed'], 'worker_completed'), false);
  assert.equal(summarizeNotification({ type: 'queue_depth', change: 'raised', message: '120 tasks queued' }), 'commit-relay: alert raised queue_depth · reason: 120 tasks queued');
});
