// Shared test helpers: a temp home per test, polling with a ceiling, and cleanup of every process a test starts.
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');
export const SCRIPTS = join(ROOT, 'scripts');
export const FIXTURES = join(ROOT, 'test', 'fixtures');

/** Creates a temp home with coordination/config/worker-types.json (the given types, or one `fixture` type). */
export function makeHome(workerTypes, { daemonConfig } = {}) {
  const home = mkdtempSync(join(tmpdir(), 'relay-test-'));
  mkdirSync(join(home, 'coordination', 'config'), { recursive: true });
  const types = workerTypes ?? {
    fixture: { command: ['sh', join(FIXTURES, 'forever.sh'), '{worker_id}'], stop_grace_seconds: 1 },
  };
  writeFileSync(join(home, 'coordination', 'config', 'worker-types.json'), JSON.stringify({ worker_types: types }, null, 2));
  if (daemonConfig) writeFileSync(join(home, 'coordination', 'config', 'pm-daemon.json'), JSON.stringify(daemonConfig, null, 2));
  return home;
}

export function removeHome(home) {
  rmSync(home, { recursive: true, force: true });
}

export function copyFixtureInto(home, name) {
  cpSync(join(FIXTURES, name), join(home, name));
}

export const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

export function readJsonl(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/** Runs the CLI (or a script under scripts/) with COMMIT_RELAY_HOME=home; resolves {code, stdout, stderr}, never rejects. */
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
    if (input !== undefined) child.stdin.end(input);
  });
}

/** Polls fn until it returns a truthy value; throws after timeoutMs with the description. */
export async function waitFor(fn, { timeoutMs = 10_000, intervalMs = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/** Tracks pids and process groups a test started, and kills them all (SIGKILL) in cleanup. */
export class ProcessTracker {
  constructor() {
    this.groups = new Set();
    this.pids = new Set();
  }
  group(pgid) {
    if (pgid) this.groups.add(pgid);
    return pgid;
  }
  pid(pid) {
    if (pid) this.pids.add(pid);
    return pid;
  }
  /** Kills every process whose environment names this home (workers the code under test started). */
  killHome(home) {
    for (const pid of pidsWithEnv('COMMIT_RELAY_HOME', home)) this.pids.add(pid);
  }
  cleanup() {
    for (const pgid of this.groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

/** Pids whose /proc/PID/environ holds NAME=value (Linux). */
export function pidsWithEnv(name, value) {
  const wanted = `${name}=${value}`;
  const out = [];
  let entries = [];
  try {
    entries = readdirSyncSafe('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0');
      if (env.includes(wanted)) out.push(Number(entry));
    } catch {
      /* gone or not ours */
    }
  }
  return out;
}

import { readdirSync } from 'node:fs';
function readdirSyncSafe(dir) {
  return readdirSync(dir);
}

/** Starts a long-lived unrelated process (its own group) for pid-reuse tests. */
export function spawnUnrelated(tracker) {
  const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
  child.unref();
  tracker.group(child.pid);
  return child.pid;
}
