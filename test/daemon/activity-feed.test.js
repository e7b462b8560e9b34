// The activity feed: every event appended to pm-activity.jsonl after its start, by anyone, once and whole.
import assert from 'node:assert/strict';
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { ActivityFeed } from '../../dist/daemon/activity-feed.js';
import { homePaths } from '../../dist/store/home.js';
import { coord, makeHome, removeHome, run, waitFor } from '../helpers/home.js';

test('the feed hands over appended events in order, whole lines only, from its start on, and survives a replaced file', async (t) => {
  const home = makeHome();
  t.after(() => removeHome(home));
  const log = coord(home, 'pm-activity.jsonl');
  writeFileSync(log, `${JSON.stringify({ timestamp: new Date().toISOString(), event: 'before_start', data: {} })}\n`);
  const feed = new ActivityFeed(homePaths(home), { pollMs: 50 });
  t.after(() => feed.close());
  /** @type {string[]} */
  const seen = [];
  feed.subscribe((event) => seen.push(event.event));
  feed.subscribe(() => {
    throw new Error('a bad subscriber');
  });
  feed.start();
  await run(home, ['emit-event', '--type', 'from_a_command', '--message', 'é ü']);
  const line = JSON.stringify({ timestamp: new Date().toISOString(), event: 'half_written', data: { text: 'ü'.repeat(10) } });
  appendFileSync(log, line.slice(0, 20));
  feed.poll();
  appendFileSync(log, `${line.slice(20)}\nnot json\n`);
  await waitFor(() => seen.length === 2, { what: 'two events' });
  assert.deepEqual(seen, ['from_a_command', 'half_written']);
  // Replaced (a hand edit, a restore): read again from the start of the new file.
  writeFileSync(`${log}.new`, `${JSON.stringify({ timestamp: new Date().toISOString(), event: 'in_new_file', data: {} })}\n`);
  renameSync(`${log}.new`, log);
  await waitFor(() => seen.length === 3, { what: 'the new file\'s event' });
  assert.equal(seen[2], 'in_new_file');
  assert.deepEqual(feed.recent(2).map((e) => e.event), ['half_written', 'in_new_file']);
});
