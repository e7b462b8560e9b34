import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { nowIso } from '../contract/time.js';
import { RelayError, describeError } from '../errors.js';
import { projectRoot, type HomePaths } from '../store/home.js';
import { checkDaemonHealth, type DaemonHealth } from './daemon-health.js';

/** This build's CLI entry point (dist/cli/main.js of the project, wherever this module was bundled). */
export const cliEntry = (): string => join(projectRoot(), 'dist', 'cli', 'main.js');

export const daemonOutFile = (paths: HomePaths): string => join(paths.systemLogs, 'pm-daemon.out');

export interface StartedDaemon {
  readonly pid: number;
  readonly outFile: string;
  /** Resolves with the exit code (or signal) if the process ends while we still watch it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops watching it, so this process can exit and leave the daemon running. */
  release(): void;
}

/**
 * Starts `node dist/cli/main.js pm-daemon --quiet` for this home in the background: detached in its own process
 * group (a cron job or the terminal ending does not take it down), stdio to agents/logs/system/pm-daemon.out.
 */
export function startDaemonInBackground(paths: HomePaths, env: NodeJS.ProcessEnv, now: number = Date.now()): StartedDaemon {
  const outFile = daemonOutFile(paths);
  let fd: number;
  try {
    mkdirSync(paths.systemLogs, { recursive: true });
    fd = openSync(outFile, 'a', 0o644);
    writeSync(fd, `--- ${nowIso(now)} pm-daemon started in the background by health-check --restart ---\n`);
  } catch (error) {
    throw new RelayError('IO_FAILED', `cannot open ${outFile}: ${describeError(error)}`, { cause: error });
  }
  try {
    // --quiet: its events already go to pm-daemon.log and pm-activity.jsonl; the .out file is for crashes.
    const child = spawn(process.execPath, [cliEntry(), 'pm-daemon', '--quiet'], {
      cwd: paths.home,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...env, COMMIT_RELAY_HOME: paths.home },
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    if (child.pid === undefined) throw new RelayError('SPAWN_FAILED', `cannot start the pm-daemon (${process.execPath} ${cliEntry()} pm-daemon --quiet)`);
    return {
      pid: child.pid,
      outFile,
      exited,
      release: () => {
        child.removeAllListeners();
        child.unref();
      },
    };
  } finally {
    closeSync(fd);
  }
}

export type RestartOutcome =
  | { readonly ok: true; readonly health: DaemonHealth; readonly pid: number; readonly waitedMs: number }
  | { readonly ok: false; readonly health: DaemonHealth; readonly pid: number; readonly waitedMs: number; readonly reason: string };

/** Starts a daemon and polls until it is healthy, it exits, or waitMs passes. */
export async function restartDaemon(paths: HomePaths, env: NodeJS.ProcessEnv, waitMs: number, pollMs = 200): Promise<RestartOutcome> {
  const started = Date.now();
  const daemon = startDaemonInBackground(paths, env);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void daemon.exited.then((e) => {
    exit = e;
  });
  try {
    for (;;) {
      const health = checkDaemonHealth(paths);
      const waitedMs = Date.now() - started;
      if (health.ok) return { ok: true, health, pid: daemon.pid, waitedMs };
      if (exit !== undefined) {
        const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code ?? '?'}`;
        return { ok: false, health, pid: daemon.pid, waitedMs, reason: `the new pm-daemon (pid ${daemon.pid}) ${how} right after starting; see ${daemon.outFile}` };
      }
      if (waitedMs >= waitMs) {
        return { ok: false, health, pid: daemon.pid, waitedMs, reason: `the new pm-daemon (pid ${daemon.pid}) is not healthy after ${Math.round(waitedMs / 1000)}s: ${health.message}; see ${daemon.outFile}` };
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  } finally {
    daemon.release();
  }
}
