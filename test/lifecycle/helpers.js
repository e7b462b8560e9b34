// Helpers for the worker lifecycle tests: a home with worker types, pending specs, the lifecycle context.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadWorkerTypes } from '../../dist/config/load.js';
import { openHome } from '../../dist/store/home.js';
import { FIXTURES, makeHome, ProcessTracker, removeHome } from '../helpers/index.js';

export { FIXTURES };

/** A fresh home, its paths, a tracker, and cleanup that kills whatever the test started there. */
export function setup(types) {
  const home = makeHome(types);
  const paths = openHome(home);
  const tracker = new ProcessTracker();
  return {
    home,
    paths,
    tracker,
    ctx: (extra = {}) => ({ paths, workerTypes: loadWorkerTypes(paths), ...extra }),
    cleanup() {
      tracker.killHome(home);
      tracker.cleanup();
      removeHome(home);
    },
  };
}

export const uniqueId = (prefix) => `${prefix}-${randomBytes(3).toString('hex')}`;

/** Writes a pending spec into active/. */
export function writePendingSpec(paths, workerId, { workerType = 'fixture', taskId = null, description = 'test task', extra = {} } = {}) {
  const spec = {
    worker_id: workerId,
    worker_type: workerType,
    task_id: taskId,
    status: 'pending',
    created_at: new Date().toISOString(),
    task: { description },
    execution: { started_at: null, completed_at: null, pid: null, restart_count: 0 },
    error: null,
    ...extra,
  };
  const file = join(paths.specDir('active'), `${workerId}.json`);
  writeFileSync(file, `${JSON.stringify(spec, null, 2)}\n`);
  return file;
}

export const specPath = (paths, folder, workerId) => join(paths.specDir(folder), `${workerId}.json`);

export function readSpecFile(paths, folder, workerId) {
  try {
    return JSON.parse(readFileSync(specPath(paths, folder, workerId), 'utf8'));
  } catch {
    return undefined;
  }
}

/** The pids whose parent is pid (Linux /proc). */
export function childrenOf(pid) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Is pid a live process (a zombie counts as dead: where PID 1 does not reap, they stay)? */
export function isLive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The live processes whose argv is the shim of this worker. */
export function shimPidsOf(workerId) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.endsWith('worker-shim.sh')) && argv.includes(workerId) && isLive(Number(entry))) out.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return out;
}

export { removeHome };
