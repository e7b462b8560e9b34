// emit-event: appends one whole line to pm-activity.jsonl; every bad input is one line on stderr, a non-zero exit,
// and no change under the home.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { activityEventSchema } from '../../dist/contract/activity.js';
import { expectRefused, makeSeededHome, testUnusableHome } from './support.js';
import { readJsonl, removeHome, run } from '../helpers/home.js';

describe('emit-event refuses bad input with one line, a non-zero exit and no change', { concurrency: 4 }, () => {
  /** @type {Array<[string, string[], RegExp]>} */
  const cases = [
    ['missing --type', ['emit-event', '--worker-id', 'w-1'], /Missing required argument: type/],
    ['--type without a value', ['emit-event', '--type'], /Not enough arguments following: type/],
    ['--type given twice', ['emit-event', '--type', 'a', '--type', 'b'], /--type was given more than once/],
    ['a malformed type', ['emit-event', '--type', 'Worker Cleaned'], /invalid event type "Worker Cleaned"/],
    ['an unknown flag', ['emit-event', '--type', 'x', '--severity', 'high'], /Unknown argument: severity/],
    ['worker id ../x', ['emit-event', '--type', 'x', '--worker-id', '../x'], /invalid worker id "\.\.\/x": it contains a path separator/],
    ['worker id a/b', ['emit-event', '--type', 'x', '--worker-id', 'a/b'], /invalid worker id "a\/b": it contains a path separator/],
    ['an empty worker id', ['emit-event', '--type', 'x', '--worker-id', ''], /invalid worker id "": it is empty/],
    ['a 200-character worker id', ['emit-event', '--type', 'x', '--worker-id', 'w'.repeat(200)], /invalid worker id "w{60}…": it is 200 characters long \(at most 128\)/],
    ['task id ..', ['emit-event', '--type', 'x', '--task-id', '..'], /invalid task id "\.\.": it contains "\.\."/],
    ['bad JSON in --data', ['emit-event', '--type', 'x', '--data', '{nope}'], /--data is not valid JSON/],
  ];
  for (const [name, args, message] of cases) test(name, () => expectRefused(args, message));
});

describe('emit-event with an unusable home', { concurrency: 2 }, () => {
  testUnusableHome(['emit-event', '--type', 'x']);
});

test('the runbook cleanup event lands as one contract line that grep finds by worker id', async () => {
  const { home, paths } = await makeSeededHome();
  try {
    const before = readFileSync(paths.activity, 'utf8');
    const result = await run(home, ['emit-event', '--type', 'worker_zombie_cleaned', '--worker-id', 'worker-implementation-001', '--message', 'Zombie worker cleaned up manually', '--data', '{"by": "ops"}']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, '');
    const after = readFileSync(paths.activity, 'utf8');
    assert.ok(after.startsWith(before), 'earlier lines are kept as they were');
    const added = after.slice(before.length);
    assert.match(added, /^[^\n]+\n$/);
    assert.match(added, /worker-implementation-001/);
    const event = activityEventSchema.parse(JSON.parse(added));
    assert.equal(event.event, 'worker_zombie_cleaned');
    assert.equal(event.worker_id, 'worker-implementation-001');
    assert.equal(event.data.message, 'Zombie worker cleaned up manually');
    assert.equal(event.data.by, 'ops');
    assert.equal(readJsonl(paths.activity).length, 2);
  } finally {
    removeHome(home);
  }
});
