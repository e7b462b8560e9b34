import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CHECKIN_STATUSES, checkinSchema } from '../../dist/contract/checkin.js';
import { CHECKIN_STATUS_VALUES } from '../../dist/worker/checkin.js';
import { withHome } from '../helpers/scope.js';
import { run } from '../helpers/home.js';
import { uniqueId, writePendingSpec } from '../helpers/specs.js';

const SCOPE = {};

const checkin = (t, args, env = {}) => run(t.home, args, { script: 'checkin.sh', env: { WORKER_ID: '', COMMIT_RELAY_RUN_ID: '', ...env } });

test('checkin.sh writes the check-in with the contract fields', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('ck-ok');
  writePendingSpec(t.home, id);
  const result = await checkin(t, ['--progress', '40', '--message', 'halfway "there"'], { WORKER_ID: id, COMMIT_RELAY_RUN_ID: 'run-abc' });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, '');
  const written = JSON.parse(readFileSync(t.paths.checkinFile(id), 'utf8'));
  assert.equal(checkinSchema.safeParse(written).success, true);
  assert.equal(written.worker_id, id);
  assert.equal(written.status, 'in_progress');
  assert.equal(written.progress_pct, 40);
  assert.equal(written.message, 'halfway "there"');
  assert.equal(written.run_id, 'run-abc');
  // A bare status change keeps the progress; --worker-id equal to WORKER_ID is fine.
  const again = await checkin(t, ['--worker-id', id, '--status', 'blocked'], { WORKER_ID: id });
  assert.equal(again.code, 0, again.stderr);
  const second = JSON.parse(readFileSync(t.paths.checkinFile(id), 'utf8'));
  assert.deepEqual([second.status, second.progress_pct, second.message, second.run_id], ['blocked', 40, null, null]);
  assert.deepEqual(readdirSync(t.paths.checkins), [`${id}.json`], 'no temp file left');
}));

test('checkin.sh refuses bad input with one line and a non-zero exit, writing nothing', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('ck-bad');
  writePendingSpec(t.home, id);
  /** @type {Array<[string[], Record<string, string>, RegExp]>} */
  const cases = [
    [['--worker-id', '../etc/passwd', '--progress', '1'], {}, /invalid worker id/],
    [['--worker-id', 'no-such-worker', '--progress', '1'], {}, /no worker "no-such-worker"/],
    [['--progress', '1'], {}, /name the worker/],
    [['--worker-id', id, '--progress', '101'], {}, /--progress must be a number from 0 to 100/],
    [['--worker-id', id, '--progress', '-1'], {}, /--progress must be a number from 0 to 100/],
    [['--worker-id', id, '--progress', 'half'], {}, /--progress must be a number from 0 to 100/],
    [['--worker-id', id, '--status', 'sleeping'], {}, /unknown --status "sleeping"/],
    [['--worker-id', id, '--colour', 'red'], {}, /unknown argument/],
    [['--worker-id', id, '--progress'], {}, /--progress needs a value/],
    [['--worker-id', id, '--progress', '5'], { WORKER_ID: 'someone-else' }, /is not this worker/],
    [['--worker-id', id, '--retry-at', '2026-12-01T00:00:00Z'], {}, /--retry-at goes with --status rate_limited/],
    [['--worker-id', id, '--status', 'rate_limited', '--retry-at', 'tomorrow'], {}, /--retry-at must be an ISO-8601 time/],
    [['--worker-id', id, '--session-id', ''], {}, /--session-id must be 1 to 200 printable characters/],
    [['--worker-id', id, '--session-id', 'a\nb'], {}, /--session-id must be 1 to 200 printable characters/],
  ];
  const results = await Promise.all(cases.map(([args, env]) => checkin(t, args, env)));
  results.forEach((result, i) => {
    const [args, , expected] = cases[i];
    assert.notEqual(result.code, 0, `${args.join(' ')} must fail`);
    assert.match(result.stderr, expected, args.join(' '));
    assert.equal(result.stderr.trim().split('\n').length, 1, 'one line');
  });
  assert.deepEqual(readdirSync(t.paths.checkins), []);
}));

test('checkin --help, and the full CLI checkin command does the same', () => withHome(SCOPE, async (t) => {
  const help = await checkin(t, ['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--progress N/);
  const id = uniqueId('ck-cli');
  writePendingSpec(t.home, id);
  const viaCli = await run(t.home, ['checkin', '--worker-id', id, '--status', 'completed'], { env: { WORKER_ID: '' } });
  assert.equal(viaCli.code, 0, viaCli.stderr);
  const written = JSON.parse(readFileSync(t.paths.checkinFile(id), 'utf8'));
  assert.deepEqual([written.status, written.progress_pct], ['completed', 100]);
  const bad = await run(t.home, ['checkin', '--worker-id', id, '--progress', '500'], { env: { WORKER_ID: '' } });
  assert.equal(bad.code, 2);
}));

test('checkin.sh --session-id and --status rate_limited --retry-at: written as the contract says, and the contract schema reads them', () => withHome(SCOPE, async (t) => {
  const id = uniqueId('ck-agent');
  writePendingSpec(t.home, id);
  const session = await checkin(t, ['--worker-id', id, '--session-id', 'sess-0b1c'], { COMMIT_RELAY_RUN_ID: 'run-a' });
  assert.equal(session.code, 0, session.stderr);
  assert.equal(JSON.parse(readFileSync(t.paths.checkinFile(id), 'utf8')).session_id, 'sess-0b1c');
  // A later check-in of the same run without --session-id keeps it (the daemon may read only the latest); another run's does not.
  assert.equal((await checkin(t, ['--worker-id', id, '--progress', '30'], { COMMIT_RELAY_RUN_ID: 'run-a' })).code, 0);
  assert.deepEqual(JSON.parse(readFileSync(t.paths.checkinFile(id), 'utf8')).session_id, 'sess-0b1c');
  assert.equal((await checkin(t, ['--worker-id', id, '--progress', '40'], { COMMIT_RELAY_RUN_ID: 'run-b' })).code, 0);
  assert.equal(JSON.parse(readFileSync(t.paths.checkinFile(id), 'utf8')).session_id, undefined);
  const limited = await checkin(t, ['--worker-id', id, '--status', 'rate_limited', '--retry-at', '2026-12-01T01:00:00+01:00', '--message', 'usage limit']);
  assert.equal(limited.code, 0, limited.stderr);
  const written = JSON.parse(readFileSync(t.paths.checkinFile(id), 'utf8'));
  assert.deepEqual([written.status, written.retry_at, written.session_id], ['rate_limited', '2026-12-01T00:00:00.000Z', undefined]);
  assert.equal(checkinSchema.safeParse(written).success, true);
}));

test('the lean check-in knows the same statuses as the contract', () => {
  assert.deepEqual([...CHECKIN_STATUS_VALUES], [...CHECKIN_STATUSES]);
});
