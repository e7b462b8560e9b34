// A real pm-daemon process for tests, and the files it writes: pm-state.json, the activity log, its pid file.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { readIdentity } from '../../dist/process/identity.js';
import { CLI, coord, readJson, readJsonl, ROOT, waitFor } from './home.js';

/**
 * The daemon as operators run it (scripts/pm-daemon.sh, npm start): the bundle the build makes (build/bundle.mjs), else
 * the `pm-daemon` command (a build without esbuild). The yargs command's flags and errors are the same (console.test.js).
 */
const BUNDLE = join(ROOT, 'dist', 'bundle', 'pm-daemon.js');
const DAEMON_ENTRY = existsSync(BUNDLE) ? [BUNDLE] : [CLI, 'pm-daemon'];

/**
 * @typedef {import('./processes.js').ProcessTracker} ProcessTracker
 * @typedef {{ code: number | null, signal: NodeJS.Signals | null, stderr: () => string }} DaemonExit
 * @typedef {{ child: import('node:child_process').ChildProcess, exited: Promise<DaemonExit>, stderr: () => string }} DaemonProcess
 * @typedef {{ args?: string[], env?: Record<string, string>, tracker?: ProcessTracker }} DaemonOptions
 */

/**
 * The daemon as a raw process (not waiting for anything); stdout ignored, stderr collected.
 * @param {string} home
 * @param {DaemonOptions} [options]
 * @returns {DaemonProcess}
 */
export function spawnDaemon(home, { args = [], env = {}, tracker } = {}) {
  const child = spawn(process.execPath, [...DAEMON_ENTRY, '--quiet', ...args], {
    env: { ...process.env, COMMIT_RELAY_HOME: home, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  tracker?.pid(child.pid);
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  /** @type {Promise<DaemonExit>} */
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stderr: () => stderr })));
  return { child, exited, stderr: () => stderr };
}

/**
 * Starts `pm-daemon` on home (a pass every 0.5 s unless env says otherwise); resolves once its first pass wrote pm-state.json.
 * @param {string} home
 * @param {DaemonOptions} [options]
 */
export async function startDaemon(home, { args = [], env = {}, tracker } = {}) {
  const daemon = spawnDaemon(home, { args, env: { PM_LOOP_INTERVAL: '0.5', ...env }, tracker });
  const { child } = daemon;
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`daemon exited early (${child.exitCode}): ${daemon.stderr()}`);
      try {
        return pmState(home).pm_daemon.pid === child.pid;
      } catch {
        return false;
      }
    },
    { what: 'the daemon to write pm-state.json', timeoutMs: 30_000 },
  );
  return daemon;
}

/** Signals the daemon (unless it has ended) and resolves its exit. @param {DaemonProcess} daemon @param {NodeJS.Signals} [signal] */
export async function stopDaemon(daemon, signal = 'SIGTERM') {
  if (daemon.child.exitCode !== null || daemon.child.signalCode !== null) return daemon.exited;
  daemon.child.kill(signal);
  return daemon.exited;
}

/** Has a daemon claimed the home (pm-daemon.pid.json names pid)? @param {string} home @param {number | undefined} pid */
export function daemonClaimed(home, pid) {
  try {
    return readJson(coord(home, 'pm-daemon.pid.json')).pid === pid;
  } catch {
    return false;
  }
}

/** @param {string} home */
export const events = (home) => readJsonl(coord(home, 'pm-activity.jsonl'));
/** The events of one worker, of one type if given. @param {string} home @param {string} workerId @param {string} [type] */
export const eventsOf = (home, workerId, type) => events(home).filter((e) => e.worker_id === workerId && (type === undefined || e.event === type));
/** @param {string} home */
export const pmState = (home) => readJson(coord(home, 'pm-state.json'));

/**
 * Waits until the daemon has made `n` whole passes that began after this call. pm-state.json is not rewritten
 * at every pass (a state where only the heartbeat moved waits half a loop interval), so its loops_completed
 * can be several passes behind: counting from it could count a pass that began before the call. A pass's start
 * is last_loop minus last_pass_ms.
 * @param {string} home
 * @param {number} [n]
 * @param {{ timeoutMs?: number }} [options]
 */
export async function morePasses(home, n = 2, { timeoutMs = 20_000 } = {}) {
  const from = Date.now();
  /** @param {any} daemon */
  const startedAt = (daemon) => Date.parse(daemon.last_loop) - daemon.last_pass_ms;
  const first = await waitFor(
    () => {
      const daemon = pmState(home).pm_daemon;
      return daemon.last_loop !== null && startedAt(daemon) > from ? { loops: daemon.loops_completed } : undefined;
    },
    { what: 'a pass begun after the call', timeoutMs },
  );
  await waitFor(() => pmState(home).pm_daemon.loops_completed >= first.loops + n - 1, { what: `${n} passes begun after the call`, timeoutMs });
}

/**
 * A pid file naming `pid` with its true identity (or the overrides given).
 * @param {string} home @param {number} pid @param {Record<string, unknown>} [overrides]
 */
export function writePidFile(home, pid, overrides = {}) {
  const identity = readIdentity(pid);
  if (!identity && overrides.process_start_ticks === undefined) throw new Error(`no process ${pid}`);
  const record = {
    pid,
    process_start_ticks: identity?.startTicks ?? 0,
    boot_id: identity?.bootId ?? 'unknown',
    host: hostname(),
    started_at: new Date(Date.now() - 60_000).toISOString(),
    home,
    loop_interval_seconds: 5,
    ...overrides,
  };
  mkdirSync(coord(home), { recursive: true });
  writeFileSync(coord(home, 'pm-daemon.pid.json'), JSON.stringify(record, null, 2));
  return record;
}

/**
 * pm-state.json as a daemon with that pid writes it.
 * @param {string} home
 * @param {{ pid: number, lastLoop?: string, loops?: number, workers?: Record<string, unknown>, metrics?: Record<string, unknown> }} state
 */
export function writePmState(home, { pid, lastLoop = new Date().toISOString(), loops = 7, workers = {}, metrics = {} }) {
  const state = {
    pm_daemon: { pid, started_at: new Date(Date.now() - 60_000).toISOString(), last_loop: lastLoop, loops_completed: loops, loop_interval_seconds: 5, last_pass_ms: 1.5 },
    monitored_workers: workers,
    metrics,
    configuration: { loop_interval_seconds: 5 },
  };
  writeFileSync(coord(home, 'pm-state.json'), JSON.stringify(state, null, 2));
  return state;
}
