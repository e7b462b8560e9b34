// scripts/checkin.sh decides the common cases in the shell and hands the rest to the Node entry: for every input,
// good or bad, it must do exactly what dist/bin/checkin.js does (exit code, stderr, stdout, the record written).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, SCRIPTS } from '../helpers/home.js';
import { withHome } from '../helpers/scope.js';
import { writePendingSpec } from '../helpers/specs.js';

const SCOPE = {};
const NODE_ENTRY = join(ROOT, 'dist', 'bin', 'checkin.js');

/**
 * @typedef {object} Case
 * @property {(id: string) => string[]} args the arguments, given the case's worker id
 * @property {Record<string, string>} [env] WORKER_ID (default: the case's id), COMMIT_RELAY_RUN_ID (default: run-1)
 * @property {string} [previous] the previous check-in's content
 * @property {boolean} [link] the previous check-in is a link to a file holding `previous`
 * @property {boolean} [noSpec] the worker has no spec in active/
 * @property {string} [rawMessage] a --message added by printf (bytes a JS string cannot hold)
 */

const record = { status: 'in_progress', progress_pct: 40, message: 'earlier "quoted" \\ text', run_id: 'run-1', session_id: 'sess-1' };
const previous = (/** @type {Record<string, unknown>} */ fields) => `${JSON.stringify({ worker_id: 'x', timestamp: '2026-11-30T12:00:00.000Z', ...record, ...fields })}\n`;
const long = (/** @type {number} */ n) => 'x'.repeat(n);

/** Decided by the shell itself: the Node entry is run too, and both must agree. @type {Case[]} */
const SHELL_CASES = [
  { args: () => ['--progress', '40', '--message', 'halfway "there", a\\b\\\\c'] },
  { args: () => ['--message=a=b', '--status=blocked', '--progress=99.999'] },
  { args: () => ['--status', 'blocked'], previous: previous({}) },
  { args: () => ['--status', 'failed'], previous: previous({ run_id: 'run-0' }) },
  { args: () => ['--message', long(4000)], previous: previous({ progress_pct: 33.25, message: 'a "progress_pct":99, "run_id":"run-1"', session_id: 'keep me', hook_event: 'Stop' }) },
  { args: () => ['--message', ''], previous: previous({ progress_pct: 60 }), link: true },
  { args: () => ['--message', '"\\'.repeat(2000)], previous: previous({ message: 'x', progress_pct: 7 }).replace('"x"', '"\\u0041\\n\\/ \\\\ \\" end \\\\"') },
  { args: () => ['--status', 'completed'], env: { COMMIT_RELAY_RUN_ID: '' }, previous: previous({}) },
  { args: () => ['--session-id', 'ok "quoted" \\', '--progress', '100'], env: { COMMIT_RELAY_RUN_ID: 'r"un\\1' } },
  ...['-0.5', '100.5'].map((p) => ({ args: () => ['--progress', p] })),
  { args: () => ['--session-id', ''] },
  { args: () => ['--message', 'déjà vu — ok ✓ 🎉 "q"'] },
  { args: () => ['--session-id', long(201)] },
  { args: () => ['--colour="x\\y"'] },
  { args: () => ['constructor', 'x'] },
  { args: () => ['--version', '--progress', '5'] },
  { args: () => ['--progress=1', '--status', 'blocked', '--progress='] },
  { args: () => ['--status', 'blocked', '--message'] },
  { args: () => ['--message', '--help', '--status', 'sleeping'] },
  { args: (id) => ['--worker-id', id, '--progress', '5'] },
  { args: () => ['--worker-id=other-worker', '--progress', '5'] },
  { args: () => ['--worker-id', `a/${long(70)}`] },
  { args: () => ['--worker-id', long(130)] },
  { args: () => ['--worker-id', 'a..b'], env: { WORKER_ID: '' } },
  { args: () => ['--progress', '5'], env: { WORKER_ID: '../x' } },
  { args: () => ['--progress', '5'], noSpec: true },
];

/** Handed to the Node entry (exec node dist/bin/checkin.js with the same arguments): the shell must not decide them. @type {Case[]} */
const NODE_CASES = [
  { args: () => ['--message', 'x'], previous: JSON.stringify({ progress_pct: 70, run_id: 'run-1', session_id: 's' }, null, 2) },
  { args: () => ['--message', 'x'], previous: previous({ progress_pct: 50.0 }).replace('"progress_pct":50', '"progress_pct":50.0') },
  { args: () => ['--message', 'x'], previous: '{"progress_pct":77,' },
  { args: () => ['--message', 'x'], previous: previous({ message: 'x' }).replace('"x"', '"\\u00G1"') },
  { args: () => ['--message', 'x'], previous: previous({ message: 'bad \\x escape' }).replace('\\\\x', '\\x') },
  { args: () => ['--message', 'x'], previous: previous({ session_id: 'é' }) },
  ...['100.0', '12.50', '-0', 'abc', '1e1', '05', ' 5', '0x10', '1.', '.5', ''].map((p) => ({ args: () => ['--progress', p] })),
  ...['a\\251', 'a\\303', '\\303(', '\\300\\257', '\\355\\240\\200', '\\364\\220\\200\\200', '\\342\\202'].map((rawMessage) => ({ args: () => [], rawMessage })),
  { args: () => ['--message', 'two\nlines'] },
  { args: () => ['--message', long(4001)] },
  { args: () => ['--session-id', 'a\u0001b'] },
  { args: () => ['--status', 'in progress\nnow'] },
  { args: () => ['--status', 'rate_limited', '--retry-at', '2026-12-01T01:00:00+01:00'] },
  { args: () => ['--help'] },
  { args: () => ['--version'] },
];

/** @returns {Promise<{ code: number, stdout: string, stderr: string }>} */
function runOne(/** @type {string} */ file, /** @type {string[]} */ argv, /** @type {Record<string, string>} */ env) {
  return new Promise((resolve) => {
    execFile(file, argv, { env: { ...process.env, ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Runs fn over items, at most `limit` at a time. @template T, R @param {T[]} items @param {number} limit @param {(item: T, i: number) => Promise<R>} fn @returns {Promise<R[]>} */
async function pool(items, limit, fn) {
  /** @type {R[]} */
  const out = [];
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next;
      next += 1;
      out[i] = await fn(/** @type {T} */ (items[i]), i);
    }
  };
  await Promise.all(Array.from({ length: limit }, lane));
  return out;
}

/** The case's homes made ready (spec, previous check-in); returns the check-in file of each. */
function prepare(/** @type {Record<string, string>} */ homes, /** @type {Case} */ c, /** @type {string} */ id) {
  return Object.fromEntries(
    Object.entries(homes).map(([kind, home]) => {
      if (!c.noSpec) writePendingSpec(home, id);
      mkdirSync(join(home, 'coordination', 'worker-checkins'), { recursive: true });
      const file = join(home, 'coordination', 'worker-checkins', `${id}.json`);
      if (c.previous !== undefined && c.link) {
        writeFileSync(join(home, `target-${id}.json`), c.previous);
        symlinkSync(join(home, `target-${id}.json`), file);
      } else if (c.previous !== undefined) writeFileSync(file, c.previous);
      return [kind, file];
    }),
  );
}

test('checkin.sh decides the common cases as the Node entry does (exit code, output, the record written) and hands it the rest', () => withHome(SCOPE, async (t) => {
  const homes = { sh: t.home, node: t.makeHome() };
  // A `node` that only says it was called: a case the shell hands over ends there (exit 99).
  const fakeBin = join(t.home, 'fake-bin');
  mkdirSync(fakeBin);
  writeFileSync(join(fakeBin, 'node'), '#!/bin/sh\necho "node called" >&2\nexit 99\n', { mode: 0o755 });
  const envOf = (/** @type {string} */ home, /** @type {string} */ id, /** @type {Case} */ c) => ({ COMMIT_RELAY_HOME: home, WORKER_ID: id, COMMIT_RELAY_RUN_ID: 'run-1', PATH: `${fakeBin}:${process.env.PATH}`, ...c.env });
  const started = Date.now();
  const cases = [...SHELL_CASES.map((c) => ({ ...c, shell: true })), ...NODE_CASES.map((c) => ({ ...c, shell: false }))];
  await pool(cases, 3, async (c, i) => {
    const id = `parity-${i}`;
    const label = `case ${i}: ${JSON.stringify(c.args(id))} ${JSON.stringify(c.env ?? {})}`;
    const files = prepare(homes, c, id);
    /** @type {Record<string, any>} */
    const seen = {};
    for (const kind of c.shell ? ['sh', 'node'] : ['sh']) {
      const home = /** @type {string} */ (homes[/** @type {'sh' | 'node'} */ (kind)]);
      const file = /** @type {string} */ (files[kind]);
      const env = envOf(home, id, c);
      const script = join(SCRIPTS, 'checkin.sh');
      const result =
        kind === 'node'
          ? await runOne(process.execPath, [NODE_ENTRY, ...c.args(id)], env)
          : c.rawMessage === undefined
            ? await runOne(script, c.args(id), env)
            : await runOne('/bin/sh', ['-c', 'exec "$0" --message "$(printf "$1")"', script, c.rawMessage], env);
      const written = existsSync(file) ? readFileSync(file, 'utf8') : null;
      seen[kind] = {
        ...result,
        stderr: result.stderr.replaceAll(home, '<home>'),
        written: written === null || written === c.previous ? written : JSON.parse(written),
        files: readdirSync(join(home, 'coordination', 'worker-checkins')).filter((f) => f.startsWith(`${id}.`)),
      };
    }
    if (!c.shell) {
      assert.deepEqual([seen.sh.code, seen.sh.stderr], [99, 'node called\n'], `${label}: handed to Node`);
      return;
    }
    for (const each of Object.values(seen)) {
      if (each.written && typeof each.written === 'object') {
        const at = Date.parse(each.written.timestamp);
        assert.match(each.written.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, label);
        assert.ok(at >= started - 2000 && at <= Date.now() + 1000, `${label}: timestamp ${each.written.timestamp} is now`);
        each.written.timestamp = '<now>';
        // The same keys in the same order.
        each.text = JSON.stringify(each.written);
      }
    }
    assert.notEqual(seen.sh.code, 99, `${label}: decided by the shell`);
    assert.deepEqual(seen.sh, seen.node, label);
  });
}));
