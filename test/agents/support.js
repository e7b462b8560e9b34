// The fake Claude Code agent and its hook, for the agent tests.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { FIXTURES, ROOT } from '../helpers/home.js';

export const FAKE_CLAUDE = join(FIXTURES, 'agents', 'fake-claude.mjs');
export const HOOK = join(ROOT, 'scripts', 'hooks', 'claude-code.sh');

/** A worker type's command that runs the fake agent with args. @param {string[]} args */
export const fakeClaude = (...args) => [process.execPath, FAKE_CLAUDE, ...args];

/**
 * Runs a program with env (over a clean base: no WORKER_ID from outside) and stdin; never rejects.
 * @param {string} file
 * @param {string[]} args
 * @param {{ env?: Record<string, string | undefined>, input?: string, cwd?: string }} [options]
 * @returns {Promise<{ code: number, stdout: string, stderr: string }>}
 */
export function runWith(file, args, { env = {}, input, cwd } = {}) {
  const base = { ...process.env, WORKER_ID: undefined, COMMIT_RELAY_RUN_ID: undefined, COMMIT_RELAY_HOME: undefined };
  return new Promise((resolve) => {
    const child = execFile(file, args, { env: { ...base, ...env }, cwd, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    // A hook that stops early (no worker, a bad id) does not read its input, as many hooks do not.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input ?? '');
  });
}

/**
 * Runs the hook with one Claude Code event (an object, or raw text) on stdin.
 * @param {Record<string, string | undefined>} env
 * @param {Record<string, unknown> | string} event
 */
export const runHook = (env, event) => runWith(HOOK, [], { env, input: typeof event === 'string' ? event : JSON.stringify(event) });
