import { loadDaemonSettings, type DaemonFlags, type DaemonSettings } from '../config/load.js';
import { systemClock, type Clock } from '../core/clock.js';
import { decidePass, decideWorker, type PassPlan } from '../core/decide.js';
import type { Action } from '../core/actions.js';
import { HealthMemo } from '../core/health.js';
import type { Logger } from '../log.js';
import type { EventInput } from '../store/activity-log.js';
import { writeDerivedTextSync } from '../store/atomic.js';
import type { HomePaths } from '../store/home.js';
import { listSpecIds, readSpec } from '../store/specs.js';
import { checkRecordedRun } from '../process/identity.js';
import { Launcher } from '../process/launcher.js';
import { spawnStandby, type WorkerChild } from '../process/spawn.js';
import { holdOf } from '../contract/worker-spec.js';
import { standbyFits, Standbys } from '../worker/standbys.js';
import { FreshLaunches } from '../worker/fresh-launches.js';
import { applyAction, recordSessions, runDeferred, sessionsToRecord, type ApplyContext } from './apply.js';
import { ActivityFeed } from './activity-feed.js';
import { DaemonEvents } from './event-log.js';
import { Notifier } from './notifications.js';
import type { PassHooks } from './hooks.js';
import { PassInputs } from './inputs.js';
import { Observer, type Departed, type Observation, type ObservedWorker } from './observer.js';
import { departedRuns, findOrphansAtStart, OrphanGuard, restoreSpecs, stopOrphans, VanishedSpecs } from './orphans.js';
import { homePermissionWarnings } from './permissions.js';
import { PassScheduler, PERIODIC_MAX_TICKS, type PassCost, type PassRequest } from './scheduler.js';
import { claimDaemonSlot, claimRestoredEvent, releaseDaemonSlot, restoreClaimIfLost, type DaemonClaim } from './singleton.js';
import { PmStateText, type DaemonCounters } from './state.js';
import { HomeWatch } from './home-watch.js';
import { applyPlan } from './apply-plan.js';
import { Housekeeping } from './housekeeping.js';
import { healthAtLastStop, seedHealth, type HealthSeed } from './health-seed.js';
import { DaemonDispatchPauses } from './dispatch-pauses.js';
import { withOutputRateLimits } from './rate-limit-scan.js';
import { ResourceSampling } from './resources.js';
import { rateLimitPolicyOf, type RateLimitPolicy } from '../core/rate-limits.js';
import type { WorkerTypes } from '../config/load.js';
import type { FleetLeases } from '../fleet/leases.js';
import type { HostWorker } from '../fleet/hosts.js';
import type { QueueJobState } from '../ops/metrics.js';

/**
 * How many workers a starting daemon finds running (their run's process alive, with its token): it adopts
 * them, supervising them as its own from its first pass. Read once at start, for pm_started.
 */
function runningAtStart(paths: HomePaths): number {
  let count = 0;
  let ids: string[];
  try {
    ids = listSpecIds(paths, 'active');
  } catch {
    return 0;
  }
  for (const id of ids) {
    const read = readSpec(paths, 'active', id);
    if (read?.ok === true && read.spec.status === 'running' && checkRecordedRun(read.spec.execution) === 'alive') count += 1;
  }
  return count;
}

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
 * The PM daemon's I/O shell: it claims the home, and on each pass observes, asks the pure core what to do
 * (src/core/decide.ts), applies the actions and writes pm-state.json. When passes run is the scheduler's
 * (scheduler.ts); what a pass reads besides the workers, inputs.ts; where events go, event-log.ts.
 */
/** How long after a restart its worker's next standby is spawned. */
const STANDBY_DELAY_MS = 200;

export class Daemon {
  readonly paths: HomePaths;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly settings: DaemonSettings;
  private readonly inputs: PassInputs;
  private readonly observer: Observer;
  private readonly events: DaemonEvents;
  private readonly scheduler: PassScheduler;
  private state: Lifecycle = 'new';
  private claim: DaemonClaim | undefined;
  private readonly orphanGuard: OrphanGuard;
  /** Workers whose spec vanished while they ran: restored when active/ itself went, else orphans (VanishedSpecs). */
  private readonly vanished = new VanishedSpecs();
  private readonly watch: HomeWatch;
  private loops = 0;
  private heldLastPass = false;
  private readonly children = new Map<string, WorkerChild>();
  /** Shims started ahead of workers' next runs (worker/standbys.ts). */
  private readonly standbys = new Standbys();
  /** The launch tokens written into the specs this daemon made from tasks, unused yet. */
  private readonly freshLaunches = new FreshLaunches();
  /** Forks the shims of the daemon's starts when settings.launcher (process/launcher.ts): started at the first start. */
  private readonly launcher = new Launcher((error) => this.events.reportError('the launcher (its unanswered starts are tried again)', error));
  /** The run of each child in `children` (for the orphan check when its spec leaves active/). */
  private readonly childRuns = new Map<string, Departed>();
  private readonly inflight = new Set<Promise<unknown>>();
  /** pm-state.json's text, its workers' entries kept from pass to pass; when it was last written (clock.now()). */
  private readonly stateText = new PmStateText();
  private stateWrittenAt: number | undefined;
  private lastObservation: Observation | undefined;
  /** Each worker's health assessment, reused while its view is unchanged and no deadline passed (core/health.ts). */
  private readonly healthMemo = new HealthMemo();
  private readonly housekeeping: Housekeeping;
  private readonly pauses: DaemonDispatchPauses;
  /** Each type's rate-limit policy and compiled patterns, for the worker types in force. */
  private rateLimitsFor: { types: WorkerTypes; policies: Record<string, RateLimitPolicy>; patterns: Map<string, RegExp[]> } | undefined;
  /** The last daemon's view of each worker's health, so a change it logged is not logged again. */
  private healthSeed: ReadonlyMap<string, HealthSeed> | undefined;
  /** Each running worker's CPU and memory, sampled every resource_sample_seconds. */
  private readonly resources: ResourceSampling;
  /** The redis queue backend's leases (undefined with the file backend). */
  private fleet: FleetLeases | undefined;
  /** Every event appended to pm-activity.jsonl from the daemon's start on, by anyone (web dashboard, notifications). */
  readonly activityFeed: ActivityFeed;
  /** pm-daemon.json `notifications`: the event hook and the webhook, fed by the activity feed (undefined when not configured). */
  private readonly notifier: Notifier | undefined;
  /** Where the metrics listener is, when enabled: shown in pm-state.json. */
  metricsEndpoint: { host: string; port: number } | undefined;

  constructor(private readonly options: DaemonOptions) {
    this.paths = options.paths;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock();
    this.settings = loadDaemonSettings(this.paths, options.env, options.flags);
    this.activityFeed = new ActivityFeed(this.paths);
    // The longest between two periodic passes (a paced tick may be skipped): a sample due sooner wakes a pass of its own.
    this.resources = new ResourceSampling(this.settings.resourceSampleSeconds * 1000, this.settings.loopIntervalSeconds * 1000 * PERIODIC_MAX_TICKS);
    this.events = new DaemonEvents(this.paths, this.logger, this.clock, options.onEvent);
    if (this.settings.notifications !== undefined) {
      const notifier = new Notifier({ paths: this.paths, settings: this.settings.notifications, logger: this.logger, emit: (events) => this.emit(events) });
      this.activityFeed.subscribe((event) => notifier.handle(event));
      this.notifier = notifier;
    }
    this.inputs = new PassInputs(this.paths, this.logger, this.clock, (where, error) => this.events.reportError(where, error));
    this.pauses = new DaemonDispatchPauses(this.paths, this.clock, (where, error) => this.events.reportError(where, error));
    this.observer = new Observer(
      this.paths,
      this.clock,
      (spec) => this.inputs.accepts(spec),
      (spec) => (this.inputs.workerTypes.types[spec.worker_type]?.heartbeat ?? 'checkin') !== 'checkin',
    );
    this.scheduler = new PassScheduler({
      clock: this.clock,
      debounceMs: this.settings.debounceMs,
      checkinBatchMs: this.settings.checkinBatchMs,
      intervalMs: this.settings.loopIntervalSeconds * 1000,
      runPass: (request) => this.pass(request),
      onError: (error) => this.events.reportError('pass', error),
      // A folder whose watch was (re)started may have changed unseen: that tick's pass reads everything.
      onTick: () => {
        if (!this.watch.ensure()) this.scheduler.wantFull();
      },
    });
    this.orphanGuard = new OrphanGuard(this.settings.massActionMin);
    this.housekeeping = new Housekeeping({
      paths: this.paths,
      clock: this.clock,
      logger: this.logger,
      workerTypes: () => this.inputs.workerTypes,
      emit: (events) => this.emit(events),
      reportError: (where, error) => this.events.reportError(where, error),
    });
    this.watch = new HomeWatch(
      this.paths,
      this.observer,
      this.scheduler,
      (where, error) => this.events.reportError(where, error),
      (workerId) => this.endReported(workerId),
    );
  }

  get counters(): Readonly<DaemonCounters> {
    return this.events.counters;
  }

  recentCounts(): { restarts: number; completed: number; failed: number } {
    return this.events.recentCounts();
  }

  emit(events: readonly EventInput[]): void {
    this.events.emit(events);
  }

  /** Events another writer already appended (the alerts file's), on the console. */
  show(events: readonly EventInput[]): void {
    this.events.show(events);
  }

  /** Claims the home, re-adopts what runs, makes the first pass, and starts watching. */
  async start(options: { watch?: boolean } = {}): Promise<void> {
    if (this.state !== 'new') throw new Error(`daemon already ${this.state}`);
    this.claim = await claimDaemonSlot(this.paths, this.settings.loopIntervalSeconds);
    const { tookOverFrom } = this.claim;
    this.state = 'running';
    this.healthSeed = healthAtLastStop(this.paths);
    // Followed from here, so the fleet's first events reach the console and the notifications too. Only when
    // someone reads it (the console, notifications, the web page): else the daemon would read back every line it appends.
    if (this.activityFeed.subscribers > 0 || this.settings.metrics.enabled) this.activityFeed.start();
    if (this.settings.queue.backend === 'redis') {
      try {
        await this.startFleet();
      } catch (error) {
        this.activityFeed.close();
        this.state = 'stopped';
        await releaseDaemonSlot(this.paths, this.claim);
        throw error;
      }
    }
    this.scheduler.start();
    const orphans = findOrphansAtStart(this.paths);
    const adopted = runningAtStart(this.paths);
    const took = tookOverFrom === undefined ? null : { pid: tookOverFrom.pid, started_at: tookOverFrom.started_at };
    const { loopIntervalSeconds, maxConcurrentWorkers } = this.settings;
    this.emit([{ event: 'pm_started', data: { pid: process.pid, home: this.paths.home, loop_interval_seconds: loopIntervalSeconds, max_concurrent_workers: maxConcurrentWorkers, worker_types: Object.keys(this.inputs.workerTypes.types), took_over_from: took, adopted } }]);
    this.logger.info({ home: this.paths.home, settings: this.settings }, 'pm-daemon started');
    const unenforced = Object.entries(this.inputs.workerTypes.types).filter(([, type]) => type.memory_limit_mb !== undefined).map(([name]) => name);
    if (this.settings.resourceSampleSeconds <= 0 && unenforced.length > 0) {
      const message = `resource_sample_seconds is 0: the memory_limit_mb of ${unenforced.join(', ')} is not enforced`;
      this.logger.warn({ worker_types: unenforced }, message);
      this.emit([{ event: 'daemon_warning', data: { warning: 'memory_limit_not_enforced', worker_types: unenforced, message } }]);
    }
    const warnings = homePermissionWarnings(this.paths);
    for (const w of warnings) this.logger.warn({ path: w.path, mode: w.mode }, w.message);
    this.emit(warnings.map((w) => ({ event: 'daemon_warning', data: { warning: 'writable_by_others', path: w.path, mode: w.mode, message: w.message } })));
    if (orphans.length > 0) this.track(stopOrphans(this.applyContext(), orphans));
    await this.housekeeping.atStart();
    await this.runPass();
    if (options.watch === false) return;
    this.watch.start();
    this.scheduler.startTicking();
  }

  /** The redis backend: connect (an evicting Redis is refused), take back the leases recorded in specs, start taking jobs. */
  private async startFleet(): Promise<void> {
    const { FleetLeases } = await import('../fleet/leases.js');
    this.fleet = new FleetLeases({
      paths: this.paths,
      settings: this.settings.queue,
      logger: this.logger,
      emit: (events) => this.emit(events),
      requestPass: () => this.requestPass(),
      lifecycle: () => this.applyContext().lifecycle(),
      workerTypes: () => this.inputs.workerTypes,
    });
    await this.fleet.start();
  }

  /** The fleet's view of this host after a pass: its load, and the leases whose specs left active/. */
  private async fleetAfterPass(observation: Observation, health: PassPlan['health']): Promise<void> {
    if (this.fleet === undefined) return;
    let localActive = 0;
    const activeIds = new Set<string>();
    const workers: HostWorker[] = [];
    for (const w of observation.workers) {
      activeIds.add(w.view.workerId);
      workers.push({ worker_id: w.view.workerId, task_id: w.view.taskId, worker_type: w.view.workerType, status: w.view.status, health: health.get(w.view.workerId)?.state ?? null, pid: w.spec.execution?.pid ?? null, restart_count: w.view.restartCount, job_id: w.spec.lease?.job_id ?? null });
      if (w.spec.lease === undefined && (w.view.status === 'pending' || w.view.status === 'running') && !w.view.held) localActive += 1;
    }
    await this.fleet.afterPass({ localActive, maxConcurrent: this.settings.maxConcurrentWorkers, pausedAll: this.pauses.forDecision().pausedTypes.all }, activeIds, workers);
  }

  /** Asks for a full pass soon (see PassScheduler.request). */
  requestPass(): void {
    this.scheduler.request();
  }

  /** One pass now (or one more right after the pass under way). Never throws. */
  runPass(): Promise<void> {
    return this.scheduler.runNow();
  }

  /** One pass; answers its CPU time in ms, and a full reading's (the scheduler paces check-in passes and full readings by them). */
  private async pass(request: PassRequest): Promise<PassCost> {
    const cpuStart = process.cpuUsage();
    const started = performance.now();
    const reload = this.inputs.reloadWorkerTypesIfChanged();
    // Specs set aside for a type that was unknown are read again: the type may be there now.
    if (reload.changed) this.observer.recheckRejected();
    const readingStart = process.cpuUsage();
    const observation = this.observer.observe(request.full || reload.changed ? undefined : request);
    const reading = request.full ? process.cpuUsage(readingStart) : undefined;
    this.lastObservation = observation;
    this.watch.recheckExits(request.exits, observation);
    const events: EventInput[] = [...reload.events];
    for (const bad of observation.invalid) {
      this.events.count('spec_invalid');
      events.push({ event: 'spec_invalid', worker_id: bad.workerId, data: { file: bad.file, reason: bad.reason } });
    }
    events.push(...this.checkinEvents(observation.newCheckins, []));
    this.pauses.refresh();
    try {
      events.push(...(await this.pauses.expire()));
    } catch (error) {
      this.events.reportError('end expired dispatch pauses', error);
    }
    const rateLimits = this.rateLimits();
    // When due, one sample of every running worker's processes: its memory goes to the decision beside the views (memoryLookup; the type's memory_limit_mb).
    this.resources.sampleIfDue(observation.workers, this.clock.now(), this.clock.wallNow());
    const workers = withOutputRateLimits(this.paths, this.clock, observation.workers, (type) => rateLimits.patterns.get(type));
    events.push(...this.checkinEvents([], observation.ignoredCheckins));
    if (request.full || request.periodic) await this.keepClaim();
    this.stopDeparted(observation);

    if (this.healthSeed !== undefined) seedHealth(this.observer, this.healthSeed, observation.workers);
    this.healthSeed = undefined;
    const queue = this.inputs.readQueue();
    events.push(...this.inputs.noteMissingTypes(observation.workers.map((w) => w.view), queue.queued));
    const plan = decidePass({
      now: this.clock.now(),
      workers: workers.map((w) => w.view),
      limits: this.inputs.limits,
      rateLimits: rateLimits.policies,
      ...this.pauses.forDecision(),
      retiredLimits: this.inputs.retiredLimits,
      previousHealth: this.observer.previousHealth(),
      heldLastPass: this.heldLastPass,
      queuedTasks: queue.queued,
      maxConcurrent: this.settings.maxConcurrentWorkers,
      massActionMin: this.settings.massActionMin,
      rand: Math.random,
      healthMemo: this.healthMemo,
      memoryOf: this.resources.memoryLookup(observation.workers),
    });
    this.heldLastPass = plan.held;
    const wakes = [plan.nextDeadline, this.pauses.nextEndAt(), this.resources.nextSampleAt(observation.workers)].filter((t): t is number => t !== null);
    this.scheduler.wakeAt(wakes.length === 0 ? null : Math.min(...wakes));
    if (plan.held) this.events.count('actions_held');
    for (const [id, assessment] of plan.health) if (!plan.heldWorkerIds.has(id)) this.observer.setHealth(id, assessment.state);
    this.emit([...events, ...plan.events]);
    // Sessions first: a worker that checked in with one and ended in the same pass is restarted with it.
    const sessions = sessionsToRecord(observation);
    if (sessions.length > 0) {
      try {
        await recordSessions(this.applyContext(), sessions);
      } catch (error) {
        this.events.reportError('record a session', error);
      }
    }
    if (await applyPlan(this.applyContext(), plan, queue.byId, (where, error, workerId) => this.events.reportError(where, error, workerId))) this.inputs.forgetQueue();
    // A standby is kept only for a worker still running or about to restart, and not stopped by an operator.
    if (this.standbys.size > 0 && request.full) {
      const keep = new Set(observation.workers.filter((w) => (w.spec.status === 'running' || w.spec.status === 'pending') && holdOf(w.spec) === null).map((w) => w.view.workerId));
      this.standbys.retain((id) => keep.has(id));
    }

    try {
      await this.fleetAfterPass(observation, plan.health);
    } catch (error) {
      this.events.reportError('fleet leases', error);
    }
    // Now and then, the slow housekeeping (housekeeping.ts).
    if (request.full || request.periodic) await this.housekeeping.afterSlowPass(observation);
    this.loops += 1;
    const passMs = performance.now() - started;
    this.writeState(observation, plan, queue.queued.length, passMs);
    const cpu = process.cpuUsage(cpuStart);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    await this.options.hooks?.afterPass?.({ daemon: this, observation, plan, passMs, cpuMs, tasksQueued: queue.queued.length, rateLimitPauses: this.pauses.rateLimitPauses(), resources: this.resources.current(observation.workers), ...(this.fleet?.queueCounts !== undefined ? { queueJobs: this.fleet.queueCounts as Record<QueueJobState, number> } : {}) });
    return reading === undefined ? { cpuMs } : { cpuMs, fullReadingMs: (reading.user + reading.system) / 1000 };
  }

  /** The events of check-ins read (a rate-limited one says so), and of those ignored (logged as a warning too). */
  private checkinEvents(read: Observation['newCheckins'], ignored: Observation['ignoredCheckins']): EventInput[] {
    const events: EventInput[] = [];
    for (const { workerId, taskId, checkin } of read) {
      events.push({ event: 'checkin_received', worker_id: workerId, task_id: taskId, data: { status: checkin.status, progress_pct: checkin.progress_pct, message: checkin.message ?? null } });
      if (checkin.status === 'rate_limited') events.push({ event: 'worker_rate_limited', worker_id: workerId, task_id: taskId, data: { source: 'checkin', reset_at: checkin.retry_at ?? null, message: checkin.message ?? null } });
    }
    for (const { workerId, reason } of ignored) {
      this.logger.warn({ worker_id: workerId, reason }, 'check-in ignored');
      events.push({ event: 'checkin_ignored', worker_id: workerId, data: { reason } });
    }
    return events;
  }

  /** The rate-limit policies and compiled patterns of the worker types in force (rebuilt when they change). */
  private rateLimits(): { policies: Record<string, RateLimitPolicy>; patterns: Map<string, RegExp[]> } {
    const types = this.inputs.workerTypes;
    if (this.rateLimitsFor?.types !== types) {
      const policies: Record<string, RateLimitPolicy> = {};
      const patterns = new Map<string, RegExp[]>();
      for (const [name, type] of Object.entries(types.types)) {
        policies[name] = rateLimitPolicyOf(name, type);
        // Checked when worker-types.json loaded (contract/worker-types.ts): each compiles.
        if (type.rate_limit_patterns !== undefined) patterns.set(name, type.rate_limit_patterns.map((p) => new RegExp(p)));
      }
      this.rateLimitsFor = { types, policies, patterns };
    }
    return this.rateLimitsFor;
  }

  /** Orphans (workers whose specs left active/ while they run) are stopped, the guard permitting (OrphanGuard). */
  private stopDeparted(observation: Observation): void {
    let left = observation.departed;
    if (observation.full) {
      const now = this.clock.now();
      const { restore, orphans } = this.vanished.sort(this.paths, observation.departed, observation.activeReplaced === true, now);
      left = orphans;
      if (restore.length > 0) {
        const { events, restored, later, errors } = restoreSpecs(this.paths, restore);
        this.emit(events);
        for (const error of errors) this.events.reportError('restore the specs of running workers', new Error(error));
        // What the daemon knew of each (its check-ins, its health) is kept: a restored worker is judged as before.
        for (const d of restored) if (d.memory !== undefined) this.observer.readopt(d.workerId, d.memory);
        this.vanished.holdForRestore(later, now);
        if (restored.length > 0) this.scheduler.request();
      }
      const again = this.vanished.lookAgainInMs(now);
      if (again !== null) this.scheduler.fullPassIn(again);
    }
    const running = observation.workers.filter((w) => w.view.status === 'running').length;
    const departed = left.length === 0 ? left : departedRuns(this.paths, left, (id) => (this.children.has(id) ? this.childRuns.get(id) : undefined));
    const { stop, held } = this.orphanGuard.decide(departed, running);
    if (held !== undefined) {
      this.emit([held]);
      this.events.count('actions_held');
      this.scheduler.wantFull();
    }
    if (stop.length > 0) this.track(stopOrphans(this.applyContext(), stop));
  }

  /** The pid file, removed or replaced while this daemon runs, is written again (the anchor already keeps a second daemon out). */
  private async keepClaim(): Promise<void> {
    if (this.claim === undefined) return;
    try {
      if (await restoreClaimIfLost(this.paths, this.claim.record)) this.emit([claimRestoredEvent(this.paths)]);
    } catch (error) {
      this.events.reportError('restore the pid file', error);
    }
  }

  private writeState(observation: Observation, plan: PassPlan, tasksQueued: number, passMs: number): void {
    if (this.claim === undefined) return;
    const { parts, changed } = this.stateText.render({
      self: this.claim.record,
      lastLoopWall: this.clock.wallNow(),
      loops: this.loops,
      lastPassMs: passMs,
      workers: observation.workers,
      health: plan.health,
      counters: this.events.counters,
      tasksQueued,
      invalidSpecs: observation.invalidCount,
      settings: this.settings,
      workerTypes: this.inputs.currentTypes,
      workerTypesFile: this.inputs.fileStatus,
      metricsEndpoint: this.metricsEndpoint,
      dispatchPauses: this.pauses.inForce(),
      resources: (worker) => this.resources.of(worker),
      ...(this.fleet === undefined ? {} : { fleet: { leases: this.fleet.leaseCount, redisAvailable: this.fleet.redisAvailable, queueCounts: this.fleet.queueCounts } }),
    });
    // Only the heartbeat changed: written again once it is half a loop interval old (the health check reads
    // last_loop), not at every pass a check-in asks for. A fleet of 10,000 is megabytes of text.
    const now = this.clock.now();
    if (!changed && this.stateWrittenAt !== undefined && now - this.stateWrittenAt < (this.settings.loopIntervalSeconds * 1000) / 2) return;
    try {
      writeDerivedTextSync(this.paths.pmState, parts());
      this.stateWrittenAt = now;
    } catch (error) {
      this.events.reportError('write pm-state.json', error);
    }
  }

  /** Whether the worker's shim is a child of the daemon whose exit will be reported (then its exit asks for the pass). */
  private endReported(workerId: string): boolean {
    const child = this.children.get(workerId);
    return child !== undefined && child.orphaned !== true && child.exitCode === null && child.signalCode === null;
  }

  /**
   * A child the daemon started: its exit asks for a pass at once, which reads the shim's exit record. A worker with a
   * standby is decided at once instead, in the passes' place (restartAtOnce), when no pass is under way.
   */
  adoptChild(workerId: string, child: WorkerChild, run?: Departed): void {
    this.children.set(workerId, child);
    if (run === undefined) this.childRuns.delete(workerId);
    else this.childRuns.set(workerId, run);
    child.once('exit', () => {
      const current = this.children.get(workerId) === child;
      if (current) this.forgetChild(workerId);
      if (!(current && this.standbys.has(workerId) && this.scheduler.runAlone(() => this.restartAtOnce(workerId)))) this.scheduler.request({ processEnded: true });
    });
  }

  /**
   * A child's end, for a worker whose next run waits in a standby: what the pass would decide for that worker (the same
   * reading, Observer.observeOne, and the same decision, core/decide.ts decideWorker) is decided now. A plain restart
   * (no backoff, pause or rate limit; under max_restarts) is applied as the pass applies it: its lock, its checks under
   * the lock, the standby told to go. Anything else (a completion, a failure, a wait), and anything this worker's
   * reading does not settle (worker-types.json changed, the spec rewritten since it was read), is the next pass's, which
   * follows at once either way and reads what a pass reads. Saves a restart the pass's reading of the whole fleet.
   */
  private async restartAtOnce(workerId: string): Promise<void> {
    try {
      const decided = this.plainRestart(workerId);
      if (decided === undefined) return;
      const { action, worker } = decided;
      const ctx = this.applyContext();
      // As the pass would: the check-ins of this worker read since the last pass logged first, then the session one of
      // them named recorded (the restart then resumes it), then the restart.
      const { read, ignored } = this.observer.takeArrived(workerId);
      this.emit(this.checkinEvents(read, ignored));
      const sessions = sessionsToRecord({ newCheckins: read, workers: [worker] });
      try {
        if (sessions.length > 0) await recordSessions(ctx, sessions);
      } catch (error) {
        this.events.reportError('record a session', error);
      }
      try {
        await applyAction(ctx, action);
      } catch (error) {
        this.events.reportError(`${action.kind} ${workerId}`, error, workerId);
      } finally {
        runDeferred(ctx);
      }
    } finally {
      this.scheduler.request({ processEnded: true });
    }
  }

  /** The restart the pass would decide now for this worker whose child ended, when it is a plain one (see restartAtOnce). */
  private plainRestart(workerId: string): { action: Extract<Action, { kind: 'schedule_restart' }>; worker: ObservedWorker } | undefined {
    if (this.state !== 'running' || this.inputs.workerTypesFileChanged()) return undefined;
    const observed = this.observer.observeOne(workerId);
    if (observed === undefined || observed.view.status !== 'running' || observed.view.process === 'alive') return undefined;
    this.pauses.refresh();
    // What the pass plans from the whole fleet first: a provider paused by the rate-limited check-ins it has not seen
    // yet (its restarts then wait), a pause's end (dispatch_resumed, logged before what it lets start).
    if (this.observer.rateLimitArrived() || this.pauses.endedUnlogged()) return undefined;
    const { pausedTypes } = this.pauses.forDecision();
    const rateLimits = this.rateLimits();
    const [worker] = withOutputRateLimits(this.paths, this.clock, [observed], (type) => rateLimits.patterns.get(type));
    if (worker === undefined) return undefined;
    const decided = decideWorker(
      worker.view,
      {
        now: this.clock.now(),
        limits: this.inputs.limits,
        retiredLimits: this.inputs.retiredLimits,
        previousHealth: this.observer.previousHealth(),
        rand: Math.random,
        rateLimits: rateLimits.policies,
        memoryOf: this.resources.memoryLookup([worker]),
      },
      (type) => pausedTypes.all || pausedTypes.types.has(type),
    );
    const [action] = decided.actions;
    if (decided.actions.length !== 1 || decided.events.length > 0 || decided.destructive || decided.rateLimited !== undefined) return undefined;
    if (action?.kind !== 'schedule_restart' || action.delayMs > 0 || action.paused === true || action.rateLimit !== undefined || action.zombie) return undefined;
    this.observer.setHealth(workerId, decided.assessment.state);
    return { action, worker };
  }

  private forgetChild(workerId: string): void {
    this.children.delete(workerId);
    this.childRuns.delete(workerId);
  }

  private applyContext(): ApplyContext {
    return {
      paths: this.paths,
      clock: this.clock,
      logger: this.logger,
      observer: this.observer,
      emit: (events) => this.emit(events),
      requestPass: () => this.requestPass(),
      lifecycle: () => ({ paths: this.paths, workerTypes: this.inputs.workerTypes, emit: (events) => this.emit(events), standbys: this.standbys, freshLaunches: this.freshLaunches, reapsExitRecords: true, ...(this.settings.launcher ? { launcher: this.launcher } : {}) }),
      adoptChild: (id, child, run) => this.adoptChild(id, child, run),
      startedRun: (id) => (this.children.has(id) ? this.childRuns.get(id) : undefined),
      forgetStartedRun: (id, runId) => {
        if (this.childRuns.get(id)?.runId === runId) this.forgetChild(id);
      },
      count: (name) => this.events.count(name),
      pauseProvider: async (action) => this.emit(await this.pauses.pauseProvider(action)),
      inflight: this.inflight,
      deferred: [],
      // A moment later: its spawn (a fork of the daemon, an exec) would compete for the CPU with the run just started.
      prepareStandby: (id) => void setTimeout(() => this.prepareStandby(id), STANDBY_DELAY_MS).unref(),
    };
  }

  /**
   * A standby for a running worker's next run: only for a type whose next start is known now (no resume_command,
   * no workspace) and only while the daemon runs. A program that cannot be started gets none (its restart says why).
   * It carries the token the restart recorded for it in the spec when this daemon issued that token and nothing used
   * it (then its run goes before its spec is written: worker/start.ts), else a new one.
   */
  private prepareStandby(workerId: string): void {
    if (this.state !== 'running' || this.standbys.has(workerId)) return;
    const read = readSpec(this.paths, 'active', workerId);
    if (read === undefined || !read.ok || read.spec.status !== 'running' || holdOf(read.spec) !== null) return;
    const spec = read.spec;
    const type = this.inputs.workerTypes.types[spec.worker_type];
    if (type === undefined || !standbyFits(type)) return;
    const recorded = spec.execution?.launching_run_id;
    const token = typeof recorded === 'string' && this.freshLaunches.has(workerId, recorded) ? recorded : undefined;
    try {
      this.standbys.add(
        spawnStandby(this.paths, { workerId, taskId: spec.task_id, description: spec.task.description, workerType: type, restartCount: spec.execution?.restart_count ?? 0, ...(token === undefined ? {} : { runId: token }) }),
      );
    } catch (error) {
      this.logger.debug({ worker_id: workerId, err: error }, 'no standby');
    }
  }

  private track(promise: Promise<unknown>): void {
    this.inflight.add(promise);
    void promise.catch((error: unknown) => this.events.reportError('background', error)).finally(() => this.inflight.delete(promise));
  }

  /**
   * Graceful stop: no new passes, finish the current one, wait (bounded) for stops in flight, write the
   * state, log pm_stopped, release the home. Workers keep running: they are detached.
   */
  async stop(reason = 'signal', waitMs = 15_000): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.watch.close();
    await this.scheduler.stop();
    if (this.inflight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.inflight]), new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      if (timer !== undefined) clearTimeout(timer);
    }
    for (const child of this.children.values()) child.unref();
    this.standbys.dropAll();
    this.launcher.close();
    // No pass runs any more: the resource sampler's kept /proc fds, and the observer's fd on active/, are released.
    this.resources.close();
    this.observer.close();
    await this.fleet?.stop().catch((error: unknown) => this.events.reportError('stop the fleet leases', error));
    await this.options.hooks?.beforeStop?.();
    this.emit([{ event: 'pm_stopped', data: { graceful: true, reason, loops_completed: this.loops, workers_left_running: this.children.size + this.runningCount() } }]);
    await releaseDaemonSlot(this.paths, this.claim);
    this.activityFeed.poll();
    // The deliveries under way end within their timeouts; what still waits is dropped (and logged).
    await this.notifier?.close();
    // Their failures (notification_failed) still reach the console; the closed notifier ignores them.
    this.activityFeed.poll();
    this.activityFeed.close();
    this.state = 'stopped';
    this.logger.info({ reason }, 'pm-daemon stopped');
  }

  private runningCount(): number {
    return this.lastObservation?.workers.filter((w) => w.view.status === 'running' && w.view.process === 'alive' && !this.children.has(w.view.workerId)).length ?? 0;
  }
}
