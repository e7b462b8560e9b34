// Prints the test files in the order `npm test` runs them: the slowest first (measured in CI, each over 20 s), then
// the rest sorted. With two files at a time, a long file started last would run alone at the end.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SLOWEST = [
  'test/fleet/queue.test.js',
  'test/chaos/daemon-kill.test.js',
  'test/cleanup/zombies.test.js',
  'test/security/symlinks.test.js',
  'test/agents/workspaces.test.js',
  'test/chaos/commands-kill.test.js',
  'test/fleet/hosts.test.js',
  'test/chaos/hand-edits.test.js',
  'test/fleet/redis-trouble.test.js',
];

/** @param {string} dir @returns {string[]} */
const find = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? find(join(dir, e.name)) : e.name.endsWith('.test.js') ? [relative(ROOT, join(dir, e.name))] : []));

const all = find(join(ROOT, 'test')).sort();
const first = SLOWEST.filter((f) => all.includes(f));
process.stdout.write(`${[...first, ...all.filter((f) => !first.includes(f))].join('\n')}\n`);
