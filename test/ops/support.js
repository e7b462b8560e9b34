// Fixtures shared by the operator-tool tests: specs, pid files and pm-state written the way the daemon writes them.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { readIdentity } from '../../dist/process/identity.js';

export const coord = (home, ...parts) => join(home, 'coordination', ...parts);

export function makeSpec(workerId, overrides = {}) {
  const { execution, ...rest } = overrides;
  return {
    worker_id: workerId,
    worker_type: 'fixture',
    task_id: `task-${workerId}`,
    status: 'running',
    created_at: new Date(Date.now() - 600_000).toISOString(),
    task: { description: `work of ${workerId}` },
    execution: { started_at: null, completed_at: null, pid: null, restart_count: 0, exit_code: null, signal: null, ...execution },
    error: null,
    ...rest,
  };
}

export function writeSpecFile(home, folder, spec) {
  const dir = coord(home, 'worker-specs', folder);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${spec.worker_id}.json`);
  writeFileSync(file, `${JSON.stringify(spec, null, 2)}\n`);
  return file;
}

/** A pid file naming `pid` with its true identity (or the overrides given). */
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

/** Every folder and file under root with its bytes, to prove that nothing changed. */
export function snapshotTree(root) {
  const out = {};
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const key = relative(root, path);
      const st = statSync(path);
      if (st.isDirectory()) {
        out[`${key}/`] = 'dir';
        walk(path);
      } else {
        out[key] = readFileSync(path, 'base64');
      }
    }
  };
  walk(root);
  return out;
}

/** The start of an ANSI control sequence. */
export const CSI = '\u001b[';
const ANSI_SEQUENCE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g');
export const stripAnsi = (text) => text.replace(ANSI_SEQUENCE, '');
