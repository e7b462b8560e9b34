// A temp home per test, the CLI run against it, reading its JSON files, and polling with a ceiling.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');
export const SCRIPTS = join(ROOT, 'scripts');
export const FIXTURES = join(ROOT, 'test', 'fixtures');

/** A path under the home's coordination/ folder. */
export const coord = (/** @type {string} */ home, /** @type {string[]} */ ...parts) => join(home, 'coordination', ...parts);

/**
 * @typedef {Record<string, Record<string, unknown> & { command: string[] }>} WorkerTypes
 * @typedef {{ types?: WorkerTypes, daemonConfig?: Record<string, unknown> }} HomeOptions
 */

/**
 * Creates a temp home with coordination/config/worker-types.json (the given types, or one `fixture` type).
 * @param {WorkerTypes} [workerTypes]
 * @param {{ daemonConfig?: Record<string, unknown> }} [options]
 */
export function makeHome(workerTypes, { daemonConfig } = {}) {
  const home = mkdtempSync(join(tmpdir(), 'relay-test-'));
  mkdirSync(coord(home, 'config'), { recursive: true });
  const types = workerTypes ?? {
    fixture: { command: ['sh', join(FIXTURES, 'forever.sh'), '{worker_id}'], stop_grace_seconds: 1 },
  };
  writeFileSync(coord(home, 'config', 'worker-types.json'), JSON.stringify({ worker_types: types }, null, 2));
  if (daemonConfig) writeFileSync(coord(home, 'config', 'pm-daemon.json'), JSON.stringify(daemonConfig, null, 2));
  return home;
}

/** @param {string} home */
export function removeHome(home) {
  rmSync(home, { recursive: true, force: true });
}

/** @param {string} home @param {string} name */
export function copyFixtureInto(home, name) {
  cpSync(join(FIXTURES, name), join(home, name));
}

/** @param {string} file @returns {any} */
export const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/** The parsed lines of a JSON-lines file; none when it does not exist. @param {string} file @returns {any[]} */
export function readJsonl(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/**
 * @typedef {{ code: number, stdout: string, stderr: string, signal: NodeJS.Signals | null }} RunResult
 */

/**
 * Runs the CLI (or a script under scripts/) with COMMIT_RELAY_HOME=home; resolves {code, stdout, stderr}, never rejects.
 * @param {string} home
 * @param {string[]} args
 * @param {{ script?: string, env?: Record<string, string>, input?: string, timeoutMs?: number }} [options]
 * @returns {Promise<RunResult>}
 */
export function run(home, args, { script, env = {}, input, timeoutMs = 30_000 } = {}) {
  const file = script ? join(SCRIPTS, script) : process.execPath;
  const argv = script ? args : [CLI, ...args];
  return new Promise((resolvePromise) => {
    const child = execFile(
      file,
      argv,
      { env: { ...process.env, COMMIT_RELAY_HOME: home, NO_COLOR: '1', ...env }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolvePromise({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr, signal: error?.signal ?? null });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/**
 * Polls fn until it returns a truthy value; throws after timeoutMs with the description.
 * @template T
 * @param {() => T | Promise<T>} fn
 * @param {{ timeoutMs?: number, intervalMs?: number, what?: string }} [options]
 * @returns {Promise<Exclude<Awaited<T>, false | 0 | '' | null | undefined>>}
 */
export async function waitFor(fn, { timeoutMs = 10_000, intervalMs = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return /** @type {Exclude<Awaited<T>, false | 0 | '' | null | undefined>} */ (last);
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A worker type's command that runs test/fixtures/<name> with args. @param {string} name @param {string[]} args */
export const fixtureCommand = (name, ...args) => ['sh', join(FIXTURES, name), ...args];

/** Worker-type settings for fast tests: a one-second stop grace and restarts without backoff. */
export const QUICK = Object.freeze({ stop_grace_seconds: 1, restart_backoff_seconds: 0, restart_backoff_max_seconds: 0 });

/**
 * value, asserted to be there (not undefined or null): for what a test expects to exist, such as a found item.
 * @template T
 * @param {T} value
 * @param {string} what
 * @returns {NonNullable<T>}
 */
export function defined(value, what) {
  assert.ok(value !== undefined && value !== null, `${what} is there`);
  return /** @type {NonNullable<T>} */ (value);
}

/**
 * The `skip` of a test that runs the runbook's jq commands: false when jq is installed. Under CI never a
 * skip (.ci/run installs jq): without it the test runs and fails, so the gap is seen.
 * @type {string | false}
 */
export const JQ_SKIP = (() => {
  try {
    execFileSync('jq', ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return process.env.CI ? false : 'jq is not installed (the runbook uses it)';
  }
})();
