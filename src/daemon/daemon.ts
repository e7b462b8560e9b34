import type { ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { loadDaemonSettings, loadWorkerTypes, type DaemonFlags, type DaemonSettings, type WorkerTypes } from '../config/load.js';
import type { Task } from '../contract/task-queue.js';
import { systemClock, type Clock } from '../core/clock.js';
import { decidePass, type PassPlan } from '../core/decide.js';
import type { QueuedTask } from '../core/dispatch.js';
import { limitsOf, type Limits } from '../core/limits.js';
import { isValidId } from '../contract/ids.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { appendEvents, type EventInput } from '../store/activity-log.js';
import { writeDerivedJsonSync } from '../store/atomic.js';
import type { DaemonPid } from '../store/daemon-pid.js';
import type { HomePaths } from '../store/home.js';
import { readTaskQueue } from '../store/tasks.js';
import { applyAction, type ApplyContext } from './apply.js';
import { createSpecsForTasks, reconcileTasks, type DispatchAction } from './dispatch.js';
import { FolderWatcher } from './folder-watch.js';
import { Observer, type Observation } from './observer.js';
import { homePermissionWarnings } from './permissions.js';
import { stopOrphans, findOrphansAtStart } from './orphans.js';
import { claimDaemonSlot, releaseDaemonSlot } from './singleton.js';
import { buildPmState, type DaemonCounters } from './state.js';
import { rotateWorkerLogs } from './logs.js';
import type { PassHooks } from './hooks.js';

export interface DaemonOptions {
  readonly paths: HomePaths;
  readonly env: NodeJS.ProcessEnv;
  readonly flags?: DaemonFlags;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Called with every event, for the foreground console. */
  readonly onEvent?: (event: EventInput) => void;
  readonly hooks?: PassHooks;
}

type Lifecycle = 'new' | 'running' | 'stopping' | 'stopped';

/**
 * The PM daemon's I/O shell: it watches, observes, asks the pure core what to do (src/core/decide.ts),
 * applies the actions, and writes pm-state.json. Events and timer ticks only ask for a pass; each pass
 * re-reads the truth from the files and the process table.
 */
export class Daemon {
  readonly paths: HomePaths;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private settings: DaemonSettings;
  private workerTypes: WorkerTypes;
  private workerTypesSig = '';
  private limits: Record<string, Limits> = {};
  private readonly observer: Observer;
  private state: Lifecycle = 'new';
  private self: DaemonPid | undefined;
  private folderWatcher: FolderWatcher | undefined;
  private interval: NodeJS.Timeout | undefined;
  private passTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private lazyTimer: NodeJS.Timeout | undefined;
  private recheckTimer: NodeJS.Timeout | undefined;
  /** Whether the next pass must read everything (anything but check-ins changed, or a timer asked). */
  private fullPassWanted = true;
  private fullPasses = 0;
  /** Check-in files changed since the last pass (worker ids), for an incremental pass. */
  private dirtyCheckins = new Set<string>();
  /** Exit records written since the last pass (worker ids): their processes are checked in full. */
  private dirtyExits = new Set<string>();
  /** How often each such worker was still alive when checked (its shim writes the record, then exits). */
  private readonly exitRechecks = new Map<string, number>();
  private lastPassEndedAt = 0;
  private passRunning: Promise<void> | undefined;
  private passAgain = false;
  private loops = 0;
  private heldLastPass = false;
  private queueSig = '';
  private queueCache: { queued: QueuedTask[]; byId: Map<string, Task> } = { queued: [], byId: new Map() };
  private readonly children = new Map<string, ChildProcess>();
  private readonly inflight = new Set<Promise<unknown>>();
  private lastError = new Map<string, number>();
  readonly counters: DaemonCounters = { restarts: 0, completed: 0, failed: 0, zombies: 0, stops: 0, spawn_failures: 0, spec_invalid: 0, actions_held: 0 };
  private readonly history: { kind: 'restart' | 'completed' | 'failed'; at: number }[] = [];
  /** Where the metrics listener is, when enabled: shown in pm-state.json. */
  metricsEndpoint: { host: string; port: number } | undefined;
  private lastObservation: Observation | undefined;

  constructor(private readonly options: DaemonOptions) {
    this.paths = options.paths;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock();
    this.settings = loadDaemonSettings(this.paths, options.env, options.flags);
    this.workerTypes = loadWorkerTypes(this.paths);
    this.noteWorkerTypes();
    this.observer = new Observer(this.paths, this.clock, (name) => this.workerTypes.types[name] !== undefined);
  }

  /** Claims the home, re-adopts what runs, makes the first pass, and starts watching. */
  async start(options: { watch?: boolean } = {}): Promise<void> {
    if (this.state !== 'new') throw new Error(`daemon already ${this.state}`);
    const { record, tookOverFrom } = await claimDaemonSlot(this.paths, this.settings.loopIntervalSeconds);
    this.self = record;
    this.state = 'running';
    const orphans = findOrphansAtStart(this.paths);
    this.emit([
      {
        event: 'pm_started',
        data: {
          pid: process.pid,
          home: this.paths.home,
          loop_interval_seconds: this.settings.loopIntervalSeconds,
          max_concurrent_workers: this.settings.maxConcurrentWorkers,
          worker_types: Object.keys(this.workerTypes.types),
          took_over_from: tookOverFrom === undefined ? null : { pid: tookOverFrom.pid, started_at: tookOverFrom.started_at },
        },
      },
    ]);
    this.logger.info({ home: this.paths.home, settings: this.settings }, 'pm-daemon started');
    const warnings = homePermissionWarnings(this.paths);
    for (const w of warnings) this.logger.warn({ path: w.path, mode: w.mode }, w.message);
    this.emit(warnings.map((w) => ({ event: 'daemon_warning', data: { warning: 'writable_by_others', path: w.path, mode: w.mode, message: w.message } })));
    if (orphans.length > 0) this.track(stopOrphans(this.applyContext(), orphans));
    await this.reconcile();
    await this.runPass();
    if (options.watch !== false) {
      this.startWatching();
      this.interval = setInterval(() => {
        this.folderWatcher?.ensure();
        this.requestPass();
      }, this.settings.loopIntervalSeconds * 1000);
    }
  }

  /**
   * Asks for a pass soon; passes never overlap, and a request during a pass runs one more after it.
   * `lazy` with `checkins` (from the folder watch): only these check-in files changed; `processEnded`:
   * a child exited or a shim wrote its exit record. Such passes read incrementally (Observer.observe);
   * any other request makes the next pass a full one.
   */
  requestPass(options: { lazy?: boolean; checkins?: readonly string[]; processEnded?: boolean } = {}): void {
    if (this.state !== 'running') return;
    if (options.lazy === true) {
      for (const id of options.checkins ?? []) this.dirtyCheckins.add(id);
      if (options.checkins === undefined) this.fullPassWanted = true;
      // A check-in only makes a worker healthier, and deadlines have timers of their own: check-ins are
      // batched into at most one pass per checkin_batch_ms, so a chatty fleet does not cost a pass each.
      if (this.lazyTimer !== undefined || this.passTimer !== undefined) return;
      const delay = Math.max(this.settings.debounceMs, this.lastPassEndedAt + this.settings.checkinBatchMs - this.clock.now());
      this.lazyTimer = setTimeout(() => {
        this.lazyTimer = undefined;
        this.schedulePass();
      }, delay);
      return;
    }
    if (options.processEnded === true) {
      // A child of ours ended, or a shim wrote its exit record: only that worker's process changed. An
      // incremental reading sees it (the shim reaped: kill(pid, 0) fails; a named exit: checked in full,
      // and its record read once the process is gone). At once: nothing else is coming to batch with it.
      this.schedulePass(0);
      return;
    }
    this.fullPassWanted = true;
    this.schedulePass();
  }

  private schedulePass(delayMs = this.settings.debounceMs): void {
    if (this.state !== 'running') return;
    if (this.passRunning !== undefined) {
      this.passAgain = true;
      return;
    }
    if (this.passTimer !== undefined) return;
    this.passTimer = setTimeout(() => {
      this.passTimer = undefined;
      void this.runPass();
    }, delayMs);
  }

  /** One full pass. Never throws: a failure is logged and the next pass tries again. */
  async runPass(): Promise<void> {
    if (this.passRunning !== undefined) {
      this.passAgain = true;
      return this.passRunning;
    }
    this.passRunning = (async () => {
      do {
        this.passAgain = false;
        try {
          await this.pass();
        } catch (error) {
          this.reportError('pass', error);
        }
      } while (this.passAgain && this.state === 'running');
    })();
    try {
      await this.passRunning;
    } finally {
      this.passRunning = undefined;
    }
  }

  private async pass(): Promise<void> {
    const cpuStart = process.cpuUsage();
    const started = performance.now();
    this.reloadWorkerTypesIfChanged();
    // Only check-ins and process ends since the last pass: an incremental reading; anything else: full.
    const full = this.fullPassWanted;
    const checkins = this.dirtyCheckins;
    const exits = this.dirtyExits;
    this.fullPassWanted = false;
    this.dirtyCheckins = new Set();
    this.dirtyExits = new Set();
    let observation: Observation;
    try {
      observation = this.observer.observe(full ? undefined : { checkins, exits });
    } catch (error) {
      this.fullPassWanted = true;
      throw error;
    }
    this.lastObservation = observation;
    this.recheckExits(exits, observation);
    const events: EventInput[] = [];
    for (const bad of observation.invalid) {
      this.counters.spec_invalid += 1;
      events.push({ event: 'spec_invalid', worker_id: bad.workerId, data: { file: bad.file, reason: bad.reason } });
    }
    for (const { workerId, taskId, checkin } of observation.newCheckins) {
      events.push({ event: 'checkin_received', worker_id: workerId, task_id: taskId, data: { status: checkin.status, progress_pct: checkin.progress_pct, message: checkin.message ?? null } });
    }
    for (const ignored of observation.ignoredCheckins) this.logger.warn({ worker_id: ignored.workerId, reason: ignored.reason }, 'check-in ignored');
    const departed = observation.departed.filter((d) => d.identity !== null);
    if (departed.length > 0) this.track(stopOrphans(this.applyContext(), departed));

    const queue = this.readQueue();
    const plan = decidePass({
      now: this.clock.now(),
      workers: observation.workers.map((w) => w.view),
      limits: this.limits,
      previousHealth: this.observer.previousHealth(),
      heldLastPass: this.heldLastPass,
      queuedTasks: queue.queued,
      maxConcurrent: this.settings.maxConcurrentWorkers,
      massActionMin: this.settings.massActionMin,
      takenIds: new Set(),
      rand: Math.random,
    });
    this.heldLastPass = plan.held;
    this.wakeAt(plan.nextDeadline);
    if (plan.held) this.counters.actions_held += 1;
    for (const [id, assessment] of plan.health) if (!plan.heldWorkerIds.has(id)) this.observer.setHealth(id, assessment.state);
    this.emit([...events, ...plan.events]);

    const ctx = this.applyContext();
    const dispatches: DispatchAction[] = [];
    for (const action of plan.actions) {
      if (action.kind === 'dispatch') {
        dispatches.push(action);
        continue;
      }
      try {
        await applyAction(ctx, action);
      } catch (error) {
        this.reportError(`${action.kind} ${action.workerId}`, error, action.workerId);
      }
    }
    if (dispatches.length > 0) {
      try {
        const ready = await createSpecsForTasks(this.paths, dispatches, queue.byId, this.clock.wallNow(), (e) => this.emit(e));
        for (const workerId of ready) {
          try {
            await applyAction(ctx, { kind: 'start', workerId, restart: false });
          } catch (error) {
            this.reportError(`start ${workerId}`, error, workerId);
          }
        }
        this.queueSig = '';
      } catch (error) {
        this.reportError('dispatch', error);
      }
    }
    // Now and then (every 12th full pass: a minute at the default interval), the slow housekeeping.
    if (full) {
      this.fullPasses += 1;
      if (this.fullPasses % 12 === 0) await this.reconcile(new Set(observation.workers.map((w) => w.spec.worker_id)));
      if (this.fullPasses % 12 === 1) rotateWorkerLogs(this.paths, observation.workers, this.workerTypes, this.logger);
    }
    this.loops += 1;
    const passMs = performance.now() - started;
    this.lastPassEndedAt = this.clock.now();
    await this.writeState(observation, plan, queue.queued.length, passMs);
    const cpu = process.cpuUsage(cpuStart);
    await this.options.hooks?.afterPass?.({ daemon: this, observation, plan, passMs, cpuMs: (cpu.user + cpu.system) / 1000, tasksQueued: queue.queued.length });
  }

  /** Settles tasks a crash left behind (see reconcileTasks); never fatal. */
  private async reconcile(active?: ReadonlySet<string>): Promise<void> {
    try {
      const fixed = await reconcileTasks(this.paths, this.clock.wallNow(), active);
      if (fixed > 0) this.logger.info({ fixed }, 'tasks reconciled with their specs');
    } catch (error) {
      this.reportError('reconcile tasks', error);
    }
  }

  /** A deadline sooner than the next full pass (a check-in timeout, a restart time) gets a pass of its own, on time. */
  private wakeAt(deadline: number | null): void {
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (deadline === null || this.state !== 'running') return;
    const delay = Math.max(0, deadline - this.clock.now()) + 5;
    if (delay >= this.settings.loopIntervalSeconds * 1000) return;
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = undefined;
      this.requestPass();
    }, delay);
  }

  private async writeState(observation: Observation, plan: PassPlan, tasksQueued: number, passMs: number): Promise<void> {
    if (this.self === undefined) return;
    const state = buildPmState({
      self: this.self,
      lastLoopWall: this.clock.wallNow(),
      loops: this.loops,
      lastPassMs: passMs,
      workers: observation.workers,
      health: plan.health,
      counters: this.counters,
      tasksQueued,
      invalidSpecs: observation.invalidCount,
      settings: this.settings,
      workerTypes: this.workerTypes,
      metricsEndpoint: this.metricsEndpoint,
    });
    try {
      writeDerivedJsonSync(this.paths.pmState, state);
    } catch (error) {
      this.reportError('write pm-state.json', error);
    }
  }

  /** Queued tasks, re-read only when task-queue.json changed. A broken queue is reported and skipped. */
  private readQueue(): { queued: QueuedTask[]; byId: Map<string, Task> } {
    let sig = '';
    try {
      const stat = statSync(this.paths.taskQueue);
      sig = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    } catch {
      sig = 'absent';
    }
    if (sig === this.queueSig) return this.queueCache;
    this.queueSig = sig;
    try {
      const queue = readTaskQueue(this.paths);
      const queuedTasks = queue.tasks.filter((t) => t.status === 'queued');
      this.queueCache = {
        queued: queuedTasks.map((t) => ({ taskId: t.task_id, priority: t.priority, createdAt: t.created_at, workerType: t.worker_type })),
        byId: new Map(queuedTasks.map((t) => [t.task_id, t])),
      };
    } catch (error) {
      this.reportError('read task-queue.json', error);
      this.queueCache = { queued: [], byId: new Map() };
    }
    return this.queueCache;
  }

  private noteWorkerTypes(): void {
    this.limits = Object.fromEntries(Object.entries(this.workerTypes.types).map(([name, type]) => [name, limitsOf(type)]));
    try {
      const stat = statSync(this.paths.workerTypes);
      this.workerTypesSig = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    } catch {
      this.workerTypesSig = '';
    }
  }

  /** worker-types.json is re-read when it changes; a broken edit is reported and the last good one stays in force. */
  private reloadWorkerTypesIfChanged(): void {
    let sig = '';
    try {
      const stat = statSync(this.paths.workerTypes);
      sig = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    } catch {
      sig = 'absent';
    }
    if (sig === this.workerTypesSig) return;
    this.workerTypesSig = sig;
    try {
      this.workerTypes = loadWorkerTypes(this.paths);
      this.noteWorkerTypes();
      this.logger.info({ worker_types: Object.keys(this.workerTypes.types) }, 'worker-types.json reloaded');
    } catch (error) {
      this.reportError('reload worker-types.json (keeping the last good one)', error);
    }
  }

  private startWatching(): void {
    // write-file-atomic and the shim write a temp file, then rename it to *.json: only *.json matters.
    const json = (name: string): boolean => name.endsWith('.json');
    const only = (file: string) => {
      const name = basename(file);
      return (n: string): boolean => n === name;
    };
    this.folderWatcher = new FolderWatcher(
      [
        { folder: this.paths.specDir('active'), accept: json },
        { folder: this.paths.checkins, accept: json },
        { folder: this.paths.exits, accept: json },
        { folder: dirname(this.paths.taskQueue), accept: only(this.paths.taskQueue) },
        { folder: dirname(this.paths.workerTypes), accept: only(this.paths.workerTypes) },
      ],
      // A check-in only makes a worker healthier: it asks for a batched (lazy) pass that reads only it.
      (folder, name) => {
        if (folder === this.paths.checkins) this.checkinChanged(name);
        else if (folder === this.paths.exits && name !== null) this.exitRecordChanged(name.slice(0, -'.json'.length));
        else this.requestPass();
      },
      (folder, error) => this.reportError(`watch ${folder} (the timed passes still see its changes)`, error),
    );
    this.folderWatcher.ensure();
  }

  /**
   * An exit record names a worker whose shim is about to exit: if the pass saw it still alive, look
   * again shortly (every 20 ms, up to 1 s), rather than leave the end to the next timed pass. This
   * matters for adopted workers, whose exit no child event announces.
   */
  private recheckExits(exits: ReadonlySet<string>, observation: Observation): void {
    if (exits.size === 0) return;
    const alive = new Set(observation.workers.filter((w) => exits.has(w.view.workerId) && w.view.process === 'alive').map((w) => w.view.workerId));
    for (const id of exits) {
      const tries = (this.exitRechecks.get(id) ?? 0) + 1;
      if (!alive.has(id) || tries > 50 || !existsSync(this.paths.exitFile(id))) {
        this.exitRechecks.delete(id);
        continue;
      }
      this.exitRechecks.set(id, tries);
      this.dirtyExits.add(id);
    }
    if (this.dirtyExits.size > 0 && this.recheckTimer === undefined) {
      this.recheckTimer = setTimeout(() => {
        this.recheckTimer = undefined;
        this.requestPass({ processEnded: true });
      }, 20);
    }
  }

  /** An exit record was written (a shim is ending) or removed (by the daemon or a command: nothing to see). */
  private exitRecordChanged(workerId: string): void {
    if (!isValidId(workerId)) return;
    if (!existsSync(this.paths.exitFile(workerId))) return;
    this.dirtyExits.add(workerId);
    this.requestPass({ processEnded: true });
  }

  /** A check-in file changed: read it now (so none is missed between batched passes), then ask lazily. */
  private checkinChanged(name: string | null): void {
    if (name === null) {
      this.requestPass({ lazy: true });
      return;
    }
    const workerId = name.slice(0, -'.json'.length);
    if (!this.observer.readCheckinNow(workerId)) this.fullPassWanted = true;
    this.requestPass({ lazy: true, checkins: [workerId] });
  }

  adoptChild(workerId: string, child: ChildProcess): void {
    this.children.set(workerId, child);
    // The child is a hint: its exit asks for a pass at once, which reads the shim's exit record.
    child.once('exit', () => {
      if (this.children.get(workerId) === child) this.children.delete(workerId);
      this.requestPass({ processEnded: true });
    });
  }

  private applyContext(): ApplyContext {
    return {
      paths: this.paths,
      workerTypes: () => this.workerTypes,
      clock: this.clock,
      logger: this.logger,
      observer: this.observer,
      emit: (events) => this.emit(events),
      lifecycle: () => ({ paths: this.paths, workerTypes: this.workerTypes, emit: (events) => this.emit(events) }),
      requestPass: () => this.requestPass(),
      adoptChild: (id, child) => this.adoptChild(id, child),
      count: (name) => {
        this.counters[name] += 1;
        if (name === 'restarts' || name === 'completed' || name === 'failed') this.history.push({ kind: name === 'restarts' ? 'restart' : name, at: this.clock.now() });
      },
      inflight: this.inflight,
    };
  }

  /** Restarts, completions and failures in the last hour (for alerts). */
  recentCounts(): { restarts: number; completed: number; failed: number } {
    const since = this.clock.now() - 3600_000;
    while (this.history.length > 0 && (this.history[0]?.at ?? since) < since) this.history.shift();
    const counts = { restarts: 0, completed: 0, failed: 0 };
    for (const h of this.history) {
      if (h.kind === 'restart') counts.restarts += 1;
      else counts[h.kind] += 1;
    }
    return counts;
  }

  emit(events: readonly EventInput[], options: { append?: boolean } = {}): void {
    if (events.length === 0) return;
    for (const event of events) {
      this.logger.info({ event: event.event, worker_id: event.worker_id ?? undefined, task_id: event.task_id ?? undefined, data: event.data }, event.event);
      this.options.onEvent?.(event);
    }
    if (options.append === false) return;
    try {
      appendEvents(this.paths, events);
    } catch (error) {
      this.logger.error({ err: error, events: events.length }, 'cannot append to pm-activity.jsonl');
    }
  }

  /** Logs a failure; the same failure is written to the activity log at most once a minute. */
  private reportError(where: string, error: unknown, workerId?: string): void {
    this.logger.error({ err: error, where, worker_id: workerId }, `${where}: ${describeError(error)}`);
    const key = `${where}:${describeError(error)}`;
    const now = this.clock.now();
    if ((this.lastError.get(key) ?? -Infinity) + 60_000 > now) return;
    this.lastError.set(key, now);
    if (this.lastError.size > 500) this.lastError = new Map([...this.lastError].slice(-100));
    try {
      appendEvents(this.paths, [{ event: 'daemon_error', worker_id: workerId, data: { where, error: describeError(error) } }]);
    } catch {
      /* the log is unwritable too: pino has it */
    }
  }

  private track(promise: Promise<unknown>): void {
    this.inflight.add(promise);
    void promise.catch((error: unknown) => this.reportError('background', error)).finally(() => this.inflight.delete(promise));
  }

  /**
   * Graceful stop: no new passes, finish the current one, wait (bounded) for stops in flight, write the
   * state, log pm_stopped, release the home. Workers keep running: they are detached.
   */
  async stop(reason = 'signal', waitMs = 15_000): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    if (this.interval !== undefined) clearInterval(this.interval);
    if (this.passTimer !== undefined) clearTimeout(this.passTimer);
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer);
    if (this.lazyTimer !== undefined) clearTimeout(this.lazyTimer);
    if (this.recheckTimer !== undefined) clearTimeout(this.recheckTimer);
    this.recheckTimer = undefined;
    this.deadlineTimer = undefined;
    this.lazyTimer = undefined;
    this.interval = undefined;
    this.passTimer = undefined;
    this.folderWatcher?.close();
    if (this.passRunning !== undefined) await this.passRunning.catch(() => undefined);
    if (this.inflight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.inflight]), new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      if (timer !== undefined) clearTimeout(timer);
    }
    for (const child of this.children.values()) child.unref();
    await this.options.hooks?.beforeStop?.();
    this.emit([{ event: 'pm_stopped', data: { graceful: true, reason, loops_completed: this.loops, workers_left_running: this.children.size + this.runningCount() } }]);
    await releaseDaemonSlot(this.paths);
    this.state = 'stopped';
    this.logger.info({ reason }, 'pm-daemon stopped');
  }

  private runningCount(): number {
    return this.lastObservation?.workers.filter((w) => w.view.status === 'running' && w.view.process === 'alive' && !this.children.has(w.view.workerId)).length ?? 0;
  }

}
