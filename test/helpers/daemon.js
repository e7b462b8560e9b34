// Starting and stopping a real pm-daemon process for tests.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CLI, readJson, readJsonl, waitFor } from './index.js';

/** Starts `pm-daemon` on home; resolves once its first pass wrote pm-state.json. */
export async function startDaemon(home, { args = [], env = {}, tracker } = {}) {
  const child = spawn(process.execPath, [CLI, 'pm-daemon', '--quiet', ...args], {
    env: { ...process.env, COMMIT_RELAY_HOME: home, PM_LOOP_INTERVAL: '0.5', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  tracker?.pid(child.pid);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.resume();
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stderr: () => stderr })));
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`daemon exited early (${child.exitCode}): ${stderr}`);
      try {
        return readJson(join(home, 'coordination', 'pm-state.json')).pm_daemon.pid === child.pid;
      } catch {
        return false;
      }
    },
    { what: 'the daemon to write pm-state.json', timeoutMs: 30_000 },
  );
  return { child, exited, stderr: () => stderr };
}

export async function stopDaemon(daemon, signal = 'SIGTERM') {
  if (daemon.child.exitCode !== null || daemon.child.signalCode !== null) return daemon.exited;
  daemon.child.kill(signal);
  return daemon.exited;
}

export const events = (home) => readJsonl(join(home, 'coordination', 'pm-activity.jsonl'));
export const eventsOf = (home, workerId, type) => events(home).filter((e) => e.worker_id === workerId && (type === undefined || e.event === type));
export const specPath = (home, folder, id) => join(home, 'coordination', 'worker-specs', folder, `${id}.json`);
export const pmState = (home) => readJson(join(home, 'coordination', 'pm-state.json'));
