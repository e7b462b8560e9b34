import { closeSync, constants as fsConstants, fstatSync, lstatSync, openSync, readdirSync, statSync } from 'node:fs';
import type { HealthState } from '../contract/pm-state.js';
import { holdOf, type WorkerSpec } from '../contract/worker-spec.js';
import { placeOnDaemonClock, wallToDaemonClock, type Clock } from '../core/clock.js';
import type { WorkerView } from '../core/health.js';
import { limitsOf, recordedTypeLimits, type Limits } from '../core/limits.js';
import { describeError } from '../errors.js';
import { pidExists, type ProcessIdentity } from '../process/identity.js';
import { workerLogFile } from '../process/spawn.js';
import { readCheckinIfChanged } from '../store/checkins.js';
import type { HomePaths } from '../store/home.js';
import { listSpecIds, readSpec } from '../store/specs.js';
import { runStateOfSpec } from '../worker/spec-process.js';
import { lstatSignature } from './file-signature.js';
import { blankMemory, type Departed, type InvalidSpec, type Memory, type NewCheckin, type Observation, type ObservedWorker } from './observation.js';

export type { Departed, Observation, ObservedWorker } from './observation.js';

/**
 * Reads the active workers for one pass, re-reading only files whose (inode, size, mtime) changed, and
 * places every timestamp on the daemon's monotonic clock when first seen.
 */
export class Observer {
  private readonly memory = new Map<string, Memory>();
  /** Each remembered worker's health, as set by setHealth (previousHealth). */
  private readonly healthOf = new Map<string, HealthState>();
  /** Check-ins read as they arrived (readCheckinNow), handed to the next observation. */
  private arrived: NewCheckin[] = [];
  /** An fd on active/ as the last full reading found it (undefined: none, or it was missing), and for how many more full readings its replacement is news. */
  private activeFd: number | undefined;
  private activeSeen = false;
  private activeReplacedReadings = 0;
  private arrivedIgnored: { workerId: string; reason: string }[] = [];

  constructor(
    private readonly paths: HomePaths,
    private readonly clock: Clock,
    /**
     * Whether a spec's worker type lets the daemon act on it: a type in worker-types.json, or one removed
     * while the spec runs or waits. A running spec is always taken (a run is supervised whatever its type).
     */
    private readonly knownType: (spec: WorkerSpec) => boolean,
    /** Whether a spec's type counts output as a sign of life (`heartbeat` output or any): then its log is looked at every pass. */
    private readonly watchesOutput: (spec: WorkerSpec) => boolean = () => false,
  ) {}

  /** worker-types.json changed: specs set aside for an unknown type are read again by the next pass. */
  recheckRejected(): void {
    for (const memory of this.memory.values()) if (memory.spec === null) memory.specSig = '';
  }

  setHealth(workerId: string, health: HealthState): void {
    const memory = this.memory.get(workerId);
    if (memory === undefined || memory.health === health) return;
    memory.health = health;
    this.healthOf.set(workerId, health);
  }

  /** Each worker's health as the last pass recorded it (kept up to date, not built per pass: read it before setHealth). */
  previousHealth(): ReadonlyMap<string, HealthState> {
    return this.healthOf;
  }

  setStopping(workerId: string, stopping: boolean): void {
    const memory = this.memory.get(workerId);
    if (memory !== undefined) memory.stopping = stopping;
  }

  /**
   * Forget a worker's cached spec so the next pass re-reads it (after the daemon itself rewrote it). A
   * worker not known yet (its spec created by this pass's dispatch) is noted, so that an incremental
   * reading reads it too.
   */
  invalidate(workerId: string): void {
    const memory = this.memory.get(workerId);
    if (memory !== undefined) memory.specSig = '';
    else this.memory.set(workerId, blankMemory());
  }

  /**
   * One pass's reading. A full reading lists the folders and stats every spec and check-in. An
   * incremental one (`checkins`: the ids whose check-in files changed, from the folder watch) is for a
   * pass asked for by check-ins and process ends alone: it keeps the specs as last read (any spec the
   * daemon rewrote since is re-read), reads only the named check-ins, checks the processes of the
   * workers named in `exits` (an exit record appeared) in full, and re-checks any other process proved
   * alive (its identity and token read before) with kill(pid, 0) instead of /proc; any other change to
   * the folders asks for a full pass. A full reading does the same for a proven process, except that it
   * reads its identity again once IDENTITY_REREAD_MS passed since the last read: a pid reused between
   * two passes is caught then (every signal checks the identity first anyway).
   */
  observe(incremental?: { readonly checkins: ReadonlySet<string>; readonly exits?: ReadonlySet<string> }): Observation {
    const full = incremental === undefined;
    const now = this.clock.now();
    const wallNow = this.clock.wallNow();
    const ids = full ? listSpecIds(this.paths, 'active') : [...this.memory.keys()];
    const checkinIds = full ? new Set(listNames(this.paths.checkins)) : incremental.checkins;
    // Only a full reading tells who left.
    const seen = full ? new Set<string>() : undefined;
    const workers: ObservedWorker[] = [];
    const invalid: InvalidSpec[] = [];
    const newCheckins: NewCheckin[] = this.arrived;
    const ignoredCheckins: { workerId: string; reason: string }[] = this.arrivedIgnored;
    this.arrived = [];
    this.arrivedIgnored = [];
    let invalidCount = 0;

    for (const id of ids) {
      seen?.add(id);
      let memory = this.memory.get(id);
      if (full || memory === undefined || memory.specSig === '') {
        const file = `${this.paths.specDir('active')}/${id}.json`;
        let sig: string | null;
        try {
          sig = lstatSignature(file);
        } catch (error) {
          invalidCount += 1;
          invalid.push({ workerId: id, file, reason: `cannot stat: ${describeError(error)}` });
          continue;
        }
        if (sig === null) continue;
        if (memory === undefined) {
          memory = blankMemory();
          this.memory.set(id, memory);
        }
        if (sig !== memory.specSig) {
          memory.specSig = sig;
          const read = readSpec(this.paths, 'active', id);
          if (read === undefined) continue;
          if (!read.ok) {
            memory.spec = null;
            if (memory.invalidReported !== sig) invalid.push({ workerId: id, file: read.file, reason: read.error.message });
            memory.invalidReported = sig;
          } else if (!this.knownType(read.spec)) {
            memory.spec = null;
            if (memory.invalidReported !== sig) invalid.push({ workerId: id, file: read.file, reason: `${read.file}: unknown worker_type "${read.spec.worker_type}" (not in worker-types.json)` });
            memory.invalidReported = sig;
          } else {
            memory.spec = read.spec;
            memory.invalidReported = null;
            this.noteRun(memory, read.spec, now, wallNow);
          }
        }
      }
      const spec = memory.spec;
      if (spec === null) {
        invalidCount += 1;
        continue;
      }
      if (checkinIds.has(id)) this.readNewCheckin(id, spec, memory, now, wallNow, newCheckins, ignoredCheckins);
      // A full reading reads the identity of a process proven alive only when its re-read is due; one named by an exit record, always.
      workers.push(this.viewHeld(id, spec, memory, incremental?.exits?.has(id) === true ? 'always' : full ? 'when due' : 'never', now, wallNow));
    }

    const departed: Departed[] = [];
    if (seen !== undefined) {
      for (const [id, memory] of this.memory) {
        if (!seen.has(id)) {
          departed.push({ workerId: id, identity: memory.identity, runId: memory.runId, memory });
          this.memory.delete(id);
          this.healthOf.delete(id);
        }
      }
    }
    // Stated after the listing: a folder replaced before or during it is seen now; one replaced after it, at the next
    // full reading, which still counts it (twice is how long the news lasts).
    const activeReplaced = full && this.noteActiveFolder();
    return { workers, invalid, invalidCount, newCheckins, ignoredCheckins, full, departed, ...(activeReplaced ? { activeReplaced } : {}) };
  }

  /**
   * One worker as an incremental reading that names its process would see it (an exit record appeared): its check-in
   * read if it changed (handed to the next observation, as readCheckinNow's), its process read in full, its spec read
   * again if its process is gone and the file changed (an operator's hold is written before the signal). For the
   * daemon's decision on a child's end, taken before the pass. Undefined when the daemon does not hold this worker's
   * valid spec as it is on disk (unknown, invalid, or rewritten by the daemon since it was read): the pass reads it.
   */
  observeOne(id: string): ObservedWorker | undefined {
    const memory = this.memory.get(id);
    if (memory === undefined || memory.spec === null || memory.specSig === '') return undefined;
    const now = this.clock.now();
    const wallNow = this.clock.wallNow();
    this.readNewCheckin(id, memory.spec, memory, now, wallNow, this.arrived, this.arrivedIgnored);
    return this.viewHeld(id, memory.spec, memory, 'always', now, wallNow);
  }

  /**
   * The worker's view (viewOf). The process was checked after the spec was read: an operator's hold is written before
   * the signal, so when a running spec's process is gone, a spec changed since (one lstat tells) may hold it. Read
   * again: a stop by an operator is never taken for a crash.
   */
  private viewHeld(id: string, spec: WorkerSpec, memory: Memory, readIdentity: 'always' | 'when due' | 'never', now: number, wallNow: number): ObservedWorker {
    const observed = this.viewOf(id, spec, memory, readIdentity);
    if (observed.view.process === 'alive' || spec.status !== 'running' || holdOf(spec) !== null) return observed;
    const fresh = this.rereadIfChanged(id, memory, now, wallNow);
    return fresh === undefined ? observed : this.viewOf(id, fresh, memory, 'always');
  }

  /** Whether a check-in read since the last observation says rate_limited (it may pause its provider: the pass's to plan). */
  rateLimitArrived(): boolean {
    return this.arrived.some((c) => c.checkin.status === 'rate_limited');
  }

  /** The check-ins of one worker read since the last observation (readCheckinNow, observeOne), taken from it. */
  takeArrived(workerId: string): { read: NewCheckin[]; ignored: { workerId: string; reason: string }[] } {
    const read = this.arrived.filter((c) => c.workerId === workerId);
    const ignored = this.arrivedIgnored.filter((c) => c.workerId === workerId);
    if (read.length > 0) this.arrived = this.arrived.filter((c) => c.workerId !== workerId);
    if (ignored.length > 0) this.arrivedIgnored = this.arrivedIgnored.filter((c) => c.workerId !== workerId);
    return { read, ignored };
  }

  /**
   * A departed worker whose spec was written back (daemon/orphans.ts VanishedSpecs): what the daemon knew of it
   * (its run, check-ins, health) is kept, as if it had never left; its spec is read again at the next reading.
   */
  readopt(workerId: string, memory: Memory): void {
    if (this.memory.has(workerId)) return;
    memory.specSig = '';
    memory.observed = null;
    this.memory.set(workerId, memory);
    if (memory.health !== null) this.healthOf.set(workerId, memory.health);
  }

  /**
   * At a full reading: whether active/ was removed or replaced at this reading or the one before. The folder is
   * known by an fd kept open on it (inode numbers are handed out again soon after a removal, so a number alone
   * could miss a replacement): removed, it has no links left; replaced, its path names another folder.
   */
  private noteActiveFolder(): boolean {
    const dir = this.paths.specDir('active');
    let current: number | null;
    try {
      current = statSync(dir).ino;
    } catch {
      current = null;
    }
    let replaced = false;
    if (this.activeFd !== undefined) {
      try {
        const held = fstatSync(this.activeFd);
        replaced = held.nlink === 0 || held.ino !== current;
      } catch {
        replaced = true;
      }
    } else if (this.activeSeen) replaced = current !== null;
    if (replaced || this.activeFd === undefined) {
      if (this.activeFd !== undefined) closeSync(this.activeFd);
      this.activeFd = undefined;
      try {
        this.activeFd = openSync(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
      } catch {
        // Missing now: its coming back is a replacement too.
      }
    }
    this.activeSeen = true;
    if (replaced) this.activeReplacedReadings = 2;
    if (this.activeReplacedReadings === 0) return false;
    this.activeReplacedReadings -= 1;
    return true;
  }

  /** Lets go of the fd kept on active/. */
  close(): void {
    if (this.activeFd !== undefined) closeSync(this.activeFd);
    this.activeFd = undefined;
  }

  /**
   * Reads one worker's check-in file as soon as the watch says it changed, so that a check-in
   * overwritten before the next pass is still counted and logged (passes for check-ins are batched).
   * Only for a worker whose valid spec is known and current (any other is left to the pass);
   * the next observation hands the result on. Never throws: false when reading failed.
   */
  readCheckinNow(workerId: string): boolean {
    const memory = this.memory.get(workerId);
    // A check-in is only ever judged against the current run: when the spec is not running or has
    // changed on disk since it was read (a new run, say; one lstat tells), the pass reads both in order.
    if (memory?.spec === null || memory?.spec === undefined || memory.specSig === '' || memory.spec.status !== 'running') return true;
    try {
      if (lstatSignature(`${this.paths.specDir('active')}/${workerId}.json`) !== memory.specSig) return true;
      this.readNewCheckin(workerId, memory.spec, memory, this.clock.now(), this.clock.wallNow(), this.arrived, this.arrivedIgnored);
      return true;
    } catch {
      return false;
    }
  }

  /** The spec again when its file changed since it was read (and still parses, with a known type); else undefined. */
  private rereadIfChanged(id: string, memory: Memory, now: number, wallNow: number): WorkerSpec | undefined {
    let sig: string | null;
    try {
      sig = lstatSignature(`${this.paths.specDir('active')}/${id}.json`);
    } catch {
      return undefined;
    }
    if (sig === null || sig === memory.specSig) return undefined;
    const read = readSpec(this.paths, 'active', id);
    if (read === undefined || !read.ok || !this.knownType(read.spec)) return undefined;
    memory.specSig = sig;
    memory.spec = read.spec;
    this.noteRun(memory, read.spec, now, wallNow);
    return read.spec;
  }

  /** A new run (a new run_id or start time) resets what the daemon knows of check-ins and progress. */
  private noteRun(memory: Memory, spec: WorkerSpec, now: number, wallNow: number): void {
    const runId = spec.execution?.run_id ?? null;
    const startedAtIso = spec.execution?.started_at ?? null;
    if (runId === memory.runId && startedAtIso === memory.startedAtIso) return;
    memory.runId = runId;
    memory.startedAtIso = startedAtIso;
    memory.startedAt = startedAtIso === null ? null : placeOnDaemonClock(Date.parse(startedAtIso), wallNow, now);
    memory.lastCheckinAt = null;
    memory.lastProgressChangeAt = null;
    memory.outputMtime = 0;
    memory.lastOutputAt = null;
    memory.lastActivityAt = null;
    memory.blockedSince = null;
    memory.checkin = null;
    memory.checkinTs = null;
    memory.checkinSig = '';
    memory.identity = null;
  }

  private readNewCheckin(id: string, spec: WorkerSpec, memory: Memory, now: number, wallNow: number, out: NewCheckin[], ignored: { workerId: string; reason: string }[]): void {
    // One open and fstat tell the file's version; it is read only when that changed.
    const got = readCheckinIfChanged(this.paths, id, memory.checkinSig);
    if (got === undefined || got.read === undefined) return;
    memory.checkinSig = got.signature;
    const read = got.read;
    if (!read.ok) {
      ignored.push({ workerId: id, reason: read.reason });
      return;
    }
    const checkin = read.checkin;
    if (checkin.timestamp === memory.checkinTs) return;
    const runId = spec.execution?.run_id ?? null;
    if (checkin.run_id !== undefined && checkin.run_id !== null && runId !== null && checkin.run_id !== runId) {
      ignored.push({ workerId: id, reason: `check-in carries run ${checkin.run_id}, the current run is ${runId}` });
      return;
    }
    const startedAtIso = spec.execution?.started_at ?? null;
    // A check-in older than the run's start belongs to an earlier run (1 s of tolerance for clock granularity).
    if (startedAtIso !== null && Date.parse(checkin.timestamp) < Date.parse(startedAtIso) - 1000) {
      // Said once per version of the file (its signature is noted above): a clock set to 1970 is visible.
      ignored.push({ workerId: id, reason: `check-in dated ${checkin.timestamp} is older than the run's start (${startedAtIso}): not counted` });
      return;
    }
    const at = placeOnDaemonClock(Date.parse(checkin.timestamp), wallNow, now);
    const previous = memory.checkin;
    memory.checkinTs = checkin.timestamp;
    memory.checkin = checkin;
    memory.checkinCount += 1;
    memory.lastCheckinAt = at;
    if (previous === null || previous.progress_pct !== checkin.progress_pct) memory.lastProgressChangeAt = at;
    if (typeof checkin.activity === 'string' && checkin.activity !== '') memory.lastActivityAt = at;
    // Blocked since the first of a row of blocked check-ins: a repeated prompt does not restart the wait.
    memory.blockedSince = checkin.status !== 'blocked' ? null : previous?.status === 'blocked' && memory.blockedSince !== null ? memory.blockedSince : at;
    out.push({ workerId: id, taskId: spec.task_id, checkin });
  }

  /**
   * Output as a sign of life: the latest mtime of output.log and output.log.1 (the log pipe rotates by a
   * rename, and each write moves the mtime of the file written), two lstats a pass. Only output written
   * after the run's first second counts: what is older belongs to an earlier run, or is the run header
   * the starter wrote.
   */
  private noteOutput(id: string, memory: Memory, now: number, wallNow: number): void {
    const file = workerLogFile(this.paths, id);
    let latest = 0;
    for (const name of [file, `${file}.1`]) {
      try {
        const stat = lstatSync(name);
        if (stat.isFile()) latest = Math.max(latest, stat.mtimeMs);
      } catch {
        // Not there (yet): no output.
      }
    }
    if (latest <= memory.outputMtime) return;
    memory.outputMtime = latest;
    const startedMs = memory.startedAtIso === null ? Number.NaN : Date.parse(memory.startedAtIso);
    if (!Number.isFinite(startedMs) || latest <= startedMs + OUTPUT_HEADER_MS) return;
    memory.lastOutputAt = placeOnDaemonClock(latest, wallNow, now);
  }

  /** The restart time on the daemon clock, converted once per value so a later wall-clock jump does not move it. */
  private restartTime(memory: Memory, iso: string | null): number | null {
    if (iso === null) return null;
    if (memory.nextRestartIso !== iso) {
      memory.nextRestartIso = iso;
      memory.nextRestartAt = wallToDaemonClock(this.clock, Date.parse(iso));
    }
    return memory.nextRestartAt;
  }

  /** A wall time from a file (ISO) on the daemon clock, as of now. */
  private onDaemonClock(iso: string | null): number | null {
    if (iso === null) return null;
    const wall = Date.parse(iso);
    return Number.isFinite(wall) ? wallToDaemonClock(this.clock, wall) : null;
  }

  /**
   * `readIdentity`: whether a process proven alive (its identity read, its token seen) is read again in /proc
   * ('always'; 'when due': IDENTITY_REREAD_MS after the last read) or only asked whether its pid exists
   * (kill(pid, 0)). A process that is not proven is always read in full.
   */
  private viewOf(id: string, spec: WorkerSpec, memory: Memory, readIdentity: 'always' | 'when due' | 'never'): ObservedWorker {
    const execution = spec.execution;
    // The token is read once per process: a process cannot lose it, and the same pid and start ticks are the same process.
    const provenPid = provenProcess(spec, memory.identity);
    const now = this.clock.now();
    const reread = readIdentity === 'always' || (readIdentity === 'when due' && now >= memory.identityDueAt);
    const state = spec.status !== 'running' ? NOT_RUNNING : !reread && provenPid !== null && pidExists(provenPid) ? PROVEN_ALIVE : runStateOfSpec(this.paths, spec, provenPid !== null);
    // Read now (a proven process skipped its kill(pid, 0) just above): the next read is due in IDENTITY_REREAD_MS, a
    // little sooner or later by its pid so that a fleet adopted at once is not read at one pass.
    if (state !== PROVEN_ALIVE && state.process === 'alive') memory.identityDueAt = now + IDENTITY_REREAD_MS * (0.75 + ((execution?.pid ?? 0) % 50) / 100);
    const pid = execution?.pid ?? null;
    const startTicks = execution?.process_start_ticks ?? null;
    if (state.process === 'alive' && pid !== null && startTicks !== null && (memory.identity?.pid !== pid || memory.identity.startTicks !== startTicks || memory.identity.bootId !== (execution?.boot_id ?? ''))) {
      memory.identity = { pid, startTicks, bootId: execution?.boot_id ?? '' };
    }
    if (spec.status === 'running' && this.watchesOutput(spec)) this.noteOutput(id, memory, this.clock.now(), this.clock.wallNow());
    const running = spec.status === 'running';
    const nextRestartAt = this.restartTime(memory, execution?.next_restart_at ?? null);
    const retryAt = this.onDaemonClock(memory.checkin?.status === 'rate_limited' ? (memory.checkin.retry_at ?? null) : null);
    const rateLimitedAt = this.onDaemonClock(execution?.rate_limited_at ?? null);
    const known = memory.observed;
    // Unchanged since the last pass (the same spec and check-in objects, the same readings): the same object, so
    // that what is derived from it (its health, its pm-state.json entry) is not worked out again.
    if (
      known !== null &&
      state.exit === null &&
      known.spec === spec &&
      known.checkin === memory.checkin &&
      known.checkinCount === memory.checkinCount &&
      memory.observedOutputMtime === memory.outputMtime &&
      sameReadings(known.view, state.process, memory, running, nextRestartAt, retryAt, rateLimitedAt)
    ) {
      return known;
    }
    const view: WorkerView & { createdAt: string } = {
      workerId: id,
      taskId: spec.task_id,
      workerType: spec.worker_type,
      status: spec.status,
      restartCount: execution?.restart_count ?? 0,
      nextRestartAt,
      startedAt: running ? memory.startedAt : null,
      lastCheckinAt: memory.lastCheckinAt,
      lastProgressChangeAt: memory.lastProgressChangeAt,
      lastOutputAt: memory.lastOutputAt,
      lastActivityAt: memory.lastActivityAt,
      blockedSince: running ? memory.blockedSince : null,
      blockedMessage: memory.blockedSince !== null ? (memory.checkin?.message ?? null) : null,
      progress: memory.checkin?.progress_pct ?? null,
      process: state.process,
      exit: state.exit,
      timeoutWarnings: execution?.timeout_warnings ?? [],
      stopping: memory.stopping,
      held: holdOf(spec) !== null,
      startedLimits: startedLimitsOf(spec),
      createdAt: spec.created_at,
      checkinStatus: memory.checkin?.status ?? null,
      retryAt,
      rateLimitWaits: execution?.rate_limit_waits ?? 0,
      rateLimitedAt,
    };
    const lastOutput = memory.lastOutputAt === null ? null : new Date(memory.outputMtime).toISOString();
    const observed = { spec, view, checkin: memory.checkin, checkinCount: memory.checkinCount, lastOutput };
    memory.observed = observed;
    memory.observedOutputMtime = memory.outputMtime;
    return observed;
  }
}

/**
 * Whether a view made earlier holds the readings of now: everything in a view that does not come from the spec or the
 * check-in object (each compared by identity by the caller).
 */
function sameReadings(view: WorkerView, process: WorkerView['process'], memory: Memory, running: boolean, nextRestartAt: number | null, retryAt: number | null, rateLimitedAt: number | null): boolean {
  return (
    view.process === process &&
    view.exit === null &&
    view.stopping === memory.stopping &&
    view.nextRestartAt === nextRestartAt &&
    view.startedAt === (running ? memory.startedAt : null) &&
    view.lastCheckinAt === memory.lastCheckinAt &&
    view.lastProgressChangeAt === memory.lastProgressChangeAt &&
    view.lastOutputAt === memory.lastOutputAt &&
    view.lastActivityAt === memory.lastActivityAt &&
    view.blockedSince === (running ? memory.blockedSince : null) &&
    view.retryAt === retryAt &&
    view.rateLimitedAt === rateLimitedAt
  );
}

/**
 * How long a full reading trusts kill(pid, 0) for a process proven alive before it reads its identity (start ticks,
 * token) in /proc again. A pid is reused only after the kernel's pids wrap around, and every pass asks whether the
 * pid still exists, so a run's end is seen at the next pass either way; the re-read catches the rare pid reused between
 * two passes, within this long. Every signal checks the identity itself first (process/terminate.ts).
 */
const IDENTITY_REREAD_MS = 30_000;

/** A spec not running has no process to look at (core/run-state.ts says the same). */
const NOT_RUNNING = { process: 'none', exit: null } as const;
const PROVEN_ALIVE = { process: 'alive', exit: null } as const;

/** Output in the run's first second is not counted: the run header, written by the starter, is there. */
const OUTPUT_HEADER_MS = 1000;

/**
 * The spec's running process is the one a full reading proved alive and the run's (same pid and start
 * ticks): its pid, else null. Then kill(pid, 0), one syscall where /proc costs an open and a read, tells
 * it still exists.
 */
function provenProcess(spec: WorkerSpec, identity: ProcessIdentity | null): number | null {
  const execution = spec.execution;
  const same = identity !== null && spec.status === 'running' && execution?.pid === identity.pid && execution.process_start_ticks === identity.startTicks;
  return same ? identity.pid : null;
}

/** By spec object: the observer keeps a spec's object while its file is unchanged, so its limits are worked out once. */
const startedLimitsCache = new WeakMap<WorkerSpec, Limits | null>();

function startedLimitsOf(spec: WorkerSpec): Limits | undefined {
  let limits = startedLimitsCache.get(spec);
  if (limits === undefined) {
    const recorded = recordedTypeLimits(spec.execution?.type_limits);
    limits = recorded === undefined ? null : limitsOf(recorded);
    startedLimitsCache.set(spec, limits);
  }
  return limits ?? undefined;
}

function listNames(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -5));
  } catch {
    return [];
  }
}
