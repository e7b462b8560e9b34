// The daemon removes the temp files a killed writer left (older than 10 minutes) at its start, one event each;
// a fresh one (a write under way), a file set aside on purpose and a link are left alone.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { events } from '../helpers/daemon.js';
import { waitFor } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';

test('the daemon removes stale leftover temp files at start, one temp_file_removed event each, and nothing else', () => withHome({}, async ({ home, paths, makeHome, startDaemon }) => {
  const aged = (file, minutes) => {
    writeFileSync(file, '{"half":');
    const then = new Date(Date.now() - minutes * 60_000);
    utimesSync(file, then, then);
    return file;
  };
  const stale = [
    aged(`${paths.taskQueue}.123456789`, 30),
    aged(`${paths.specFile('completed', 'w-old')}.42`, 11),
    aged(`${paths.pmState}.999.3.tmp`, 60),
    aged(`${paths.checkinFile('w-old')}.tmp-999-1700000000000`, 60),
    aged(`${join(paths.exits, 'w-old.json')}.tmp.999`, 60),
    aged(`${paths.dispatchPauses}.31337`, 20),
    aged(`${join(paths.coordination, '.create-task-cache')}.999.1.tmp`, 60), // the create-task.sh cache the Node entry writes
  ];
  const kept = [
    aged(`${paths.alerts}.77`, 1), // a write under way, for all we know
    aged(`${paths.alerts}.corrupt-2025-11-21T10-00-00-000Z`, 60), // set aside on purpose
    aged(join(paths.coordination, 'notes.json.5'), 60), // not a temp name of a file of ours
    aged(join(paths.coordination, '.create-task-cache-old.1.2.tmp'), 60), // nor this
  ];
  const outside = join(makeHome(), 'victim.json');
  writeFileSync(outside, 'precious\n');
  const link = `${paths.specFile('active', 'w-link')}.55`;
  symlinkSync(outside, link);
  const then = new Date(Date.now() - 60 * 60_000);
  utimesSync(outside, then, then);

  await startDaemon();
  await waitFor(() => events(home).filter((e) => e.event === 'temp_file_removed').length === stale.length, { what: 'one temp_file_removed per stale temp file' });
  for (const file of stale) assert.equal(existsSync(file), false, `${file} removed`);
  for (const file of kept) assert.equal(existsSync(file), true, `${file} kept`);
  assert.equal(lstatSync(link).isSymbolicLink(), true, 'the link is left');
  assert.equal(readFileSync(outside, 'utf8'), 'precious\n');
  const removed = events(home).filter((e) => e.event === 'temp_file_removed');
  assert.deepEqual(removed.map((e) => e.data.file).sort(), [...stale].sort());
  const queue = removed.find((e) => e.data.file === stale[0]);
  assert.equal(queue?.data.of, paths.taskQueue);
  assert.ok(Number(queue?.data.age_seconds) >= 30 * 60 - 5, 'its age is logged');
  assert.match(readFileSync(paths.daemonLog, 'utf8'), /temp_file_removed/);
}));
