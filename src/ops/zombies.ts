import { nowIso } from '../contract/time.js';
import type { WorkerSpec } from '../contract/worker-spec.js';
import { RelayError } from '../errors.js';
import { readProcStat } from '../process/identity.js';
import { stopRun } from '../process/terminate.js';
import { readTextIfExists, writeJsonAtomic } from '../store/atomic.js';
import { readCheckin } from '../store/checkins.js';
import { daemonLiveness, daemonRuns } from '../store/daemon-pid.js';
import type { HomePaths } from '../store/home.js';
import { listSpecIds, readSpec, withSpecLock } from '../store/specs.js';
import { toFailed } from '../core/transitions.js';
import { workerEvent } from '../worker/events.js';
import { finalizeLocked, settleAfterLock } from '../worker/settle.js';
import { stampEvents, withOutbox } from '../worker/outbox.js';
import { recordedProcess, runStateOfSpec } from '../worker/spec-process.js';

export const ZOMBIE_ERROR = 'Zombie worker - no process found';

/** A running spec whose process is gone (or whose pid is now another process) with no recorded exit, and why we say so. */
export interface ZombieFinding {
  readonly worker_id: string;
  readonly task_id: string | null;
  readonly worker_type: string;
  readonly pid: number | null;
  readonly process: 'gone' | 'reused' | 'none';
  readonly evidence: string;
  readonly last_checkin: string | null;
  readonly last_checkin_age_seconds: number | null;
  readonly restart_count: number;
  readonly started_at: string | null;
}

/** The daemon's rule (core/run-state.ts) applied to one spec: a finding when it is a zombie, else why not. */
export function assessZombie(paths: HomePaths, spec: WorkerSpec, now: number = Date.now()): { zombie: ZombieFinding } | { zombie: null; why: string } {
  if (spec.status !== 'running') return { zombie: null, why: `its status is ${spec.status}, not running` };
  const e = spec.execution;
  const recorded = { startTicks: e?.process_start_ticks ?? null, bootId: e?.boot_id ?? null };
  const state = runStateOfSpec(paths, spec);
  if (state.exit !== null) return { zombie: null, why: `its run ended (${state.exit.signal ?? `exit code ${state.exit.exitCode}`}) and is recorded; the daemon finishes it` };
  if (state.process === 'alive') return { zombie: null, why: `its process ${e?.pid} is alive` };
  const pid = e?.pid ?? null;
  let evidence: string;
  if (state.process === 'none') evidence = 'no pid recorded for a running worker';
  else if (state.process === 'reused') {
    const live = pid === null ? undefined : readProcStat(pid);
    evidence = `pid ${pid} now belongs to another process (started at tick ${live?.startTicks ?? '?'}, ours at ${recorded.startTicks ?? '?'})`;
  } else evidence = `no process with pid ${pid}`;
  const checkin = readCheckin(paths, spec.worker_id);
  const last = checkin?.ok === true ? checkin.checkin.timestamp : null;
  return {
    zombie: {
      worker_id: spec.worker_id,
      task_id: spec.task_id,
      worker_type: spec.worker_type,
      pid,
      process: state.process === 'gone' ? 'gone' : state.process === 'reused' ? 'reused' : 'none',
      evidence: `${evidence}, and no exit recorded`,
      last_checkin: last,
      last_checkin_age_seconds: last === null ? null : Math.max(0, Math.round((now - Date.parse(last)) / 1000)),
      restart_count: e?.restart_count ?? 0,
      started_at: e?.started_at ?? null,
    },
  };
}

/** Every zombie in active/. Reads only; changes nothing. */
export function findZombies(paths: HomePaths, now: number = Date.now()): ZombieFinding[] {
  const found: ZombieFinding[] = [];
  for (const id of listSpecIds(paths, 'active')) {
    const read = readSpec(paths, 'active', id);
    if (read === undefined || !read.ok) continue;
    const verdict = assessZombie(paths, read.spec, now);
    if (verdict.zombie !== null) found.push(verdict.zombie);
  }
  return found;
}

/** The finding for one worker, or NOT_A_ZOMBIE / SPEC_NOT_FOUND saying why not. */
export function requireZombie(paths: HomePaths, workerId: string, now: number = Date.now()): ZombieFinding {
  const read = readSpec(paths, 'active', workerId);
  if (read === undefined) throw new RelayError('SPEC_NOT_FOUND', `worker "${workerId}" has no spec in worker-specs/active/`);
  if (!read.ok) throw read.error;
  const verdict = assessZombie(paths, read.spec, now);
  if (verdict.zombie === null) throw new RelayError('NOT_A_ZOMBIE', `worker "${workerId}" is not a zombie: ${verdict.why}`);
  return verdict.zombie;
}

/**
 * Cleans up one zombie under its spec lock, re-checking the verdict there (the daemon may have acted
 * first): spec to failed/ with status failed and the zombie error, its task failed, worker_zombie_cleaned
 * logged. Returns false when it was no longer a zombie.
 */
export async function cleanZombie(paths: HomePaths, workerId: string, now: number = Date.now()): Promise<boolean> {
  const ctx = { paths, now: () => now };
  const cleaned = await withSpecLock(paths, workerId, async () => {
    const read = readSpec(paths, 'active', workerId);
    if (read === undefined || !read.ok) return null;
    const verdict = assessZombie(paths, read.spec, now);
    if (verdict.zombie === null) return null;
    const spec = read.spec;
    // Only the leader may have died (its group may still run the worker), or the pid may name another
    // process now: what carries this run's token is stopped, never the recorded process itself.
    const recorded = recordedProcess(spec);
    // Wherever it runs: also what escaped the group (setsid) carrying the token.
    if (recorded !== undefined) await stopRun(recorded, 1000, { everywhere: true });
    const zombie = verdict.zombie;
    // Its event is written with the failed spec (worker/outbox.ts): logged once, even if this command is killed.
    const at = nowIso(now);
    const events = stampEvents([workerEvent('worker_zombie_cleaned', spec, { pid: zombie.pid, evidence: zombie.evidence, restart_count: zombie.restart_count, source: 'cleanup-zombie-workers' })], at);
    const final = withOutbox(toFailed(spec, ZOMBIE_ERROR, at), events, at);
    await finalizeLocked(ctx, final);
    return { final, events };
  });
  if (cleaned === null) return false;
  await settleAfterLock(ctx, cleaned.final, cleaned.events);
  return true;
}

/** With no daemon running, nobody else writes pm-state.json: drop the cleaned workers from its monitoring. */
export async function forgetInPmState(paths: HomePaths, workerIds: readonly string[]): Promise<void> {
  if (workerIds.length === 0 || daemonRuns(daemonLiveness(paths))) return;
  const text = readTextIfExists(paths.pmState);
  if (text === undefined) return;
  let state: { monitored_workers?: Record<string, unknown> };
  try {
    state = JSON.parse(text) as typeof state;
  } catch {
    return;
  }
  if (state.monitored_workers === undefined) return;
  for (const id of workerIds) delete state.monitored_workers[id];
  await writeJsonAtomic(paths.pmState, state, { fsync: false });
}
