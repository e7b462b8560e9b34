import type { Clock, Soon, Timer } from '../core/clock.js';
import { CostPace } from '../core/pace.js';

/** What the next pass must read: everything (full), or only these check-ins and process ends (incremental). */
export interface PassRequest {
  readonly full: boolean;
  /** The periodic tick asked for it (the daemon's slower duties ride on these passes: its claim, housekeeping). */
  readonly periodic: boolean;
  readonly checkins: ReadonlySet<string>;
  readonly exits: ReadonlySet<string>;
}

export interface SchedulerOptions {
  readonly clock: Clock;
  /** Delay before a pass others asked for, so a burst of changes makes one pass. */
  readonly debounceMs: number;
  /** Check-ins alone ask for at most one pass per this long. */
  readonly checkinBatchMs: number;
  /** The periodic pass, the safety net for missed events. */
  readonly intervalMs: number;
  /**
   * Runs one pass; the scheduler never calls it while the last call is running. A throw is handed to onError. It may
   * answer what the pass cost in CPU time (ms; a number is the whole pass's): the batching of check-ins and the pace
   * of full readings keep to a share of a core with it (see checkinBatch, fullReadingEvery).
   */
  readonly runPass: (request: PassRequest) => Promise<number | PassCost | void>;
  readonly onError: (error: unknown) => void;
  /** At each periodic tick, before the pass it asks for. */
  readonly onTick?: () => void;
}

/** What a pass cost, in ms of CPU time. */
export interface PassCost {
  /** The whole pass. */
  readonly cpuMs: number;
  /** Of a full pass, its full reading alone (listing and stat'ing every file): what pacing the full reading spares. */
  readonly fullReadingMs?: number;
}

/** How a pass is asked for (see request). */
export interface RequestKind {
  /** A check-in changed: batched, and read incrementally (only these workers' check-ins). */
  readonly lazy?: boolean;
  /** With lazy: the workers whose check-in files changed; without: unknown, so the pass is full. */
  readonly checkins?: readonly string[];
  /** A child ended or a shim wrote its exit record: a pass at once, incremental. */
  readonly processEnded?: boolean;
  /** With processEnded: workers whose exit records appeared (their processes are checked in full). */
  readonly exits?: readonly string[];
  /**
   * Time alone asks (the periodic tick, a health deadline): nothing on disk is known to have changed, so the pass
   * reads everything only when the full reading is due (see fullReadingEvery); else it reads what the watch named.
   */
  readonly timed?: 'tick' | 'deadline';
}

/**
 * The share of one core that passes asked for by check-ins alone may take: the batch grows past checkinBatchMs
 * when such a pass costs more than this share of it (a big fleet's pass reads all its workers), up to the periodic
 * pass's interval. 200 workers' passes fit in the 2 s default; 1,000 workers' pass of about 25 ms waits 5 s.
 */
export const CHECKIN_PASS_SHARE = 0.005;

/**
 * The full reading (every spec and check-in listed and stat'ed, due identities re-read: the safety net for a missed
 * event) at a pass time alone asked for keeps to this share of a core: it is made at every periodic tick while it
 * costs less than this share of the interval (10 ms at 5 s: a hundred workers or so), else every few ticks, and at
 * least every FULL_READING_MAX_TICKS (1,000 workers' reading of about 90 ms: every 45 s). A pass asked for by a
 * change the watch did not name, or after a folder's watch was (re)started, reads in full whatever the cost.
 */
export const FULL_READING_SHARE = 0.002;
export const FULL_READING_MAX_TICKS = 12;

/**
 * The periodic pass itself (the safety net between events: every process asked whether it lives, the claim kept, the
 * check-ins of the batch taken) keeps to this share of a core: at every tick while it costs less than this share of
 * the interval (25 ms at 5 s: several hundred workers), else every other tick. Never rarer: the health check calls
 * the daemon's passes stopped after three intervals (ops/daemon-health.ts). A tick that must read in full (a folder's
 * watch restarted), a health deadline, a change or a process end still get their pass at once.
 */
export const PERIODIC_PASS_SHARE = 0.005;
export const PERIODIC_MAX_TICKS = 2;

/**
 * When the daemon passes, and what each pass reads. Folder events, a child's exit, a health deadline and
 * the periodic tick only *ask* for a pass; passes never overlap, and a request during one runs one more
 * right after it. Every timer is the clock's and is owned here, so stop() leaves none behind.
 */
export class PassScheduler {
  private running = false;
  private passTimer: Timer | undefined;
  /** A pass asked for at once (a process end), on the clock's `soon` where it has one. */
  private passSoon: Soon | undefined;
  private lazyTimer: Timer | undefined;
  private deadlineTimer: Timer | undefined;
  private tickTimer: Timer | undefined;
  private recheckTimer: Timer | undefined;
  private fullTimer: Timer | undefined;
  private fullWanted = true;
  private checkins = new Set<string>();
  private exits = new Set<string>();
  private lastPassEndedAt = 0;
  private current: Promise<void> | undefined;
  private again = false;
  /** Passes that read check-ins alone, paced by their CPU time. */
  private readonly checkinPace = new CostPace(CHECKIN_PASS_SHARE);
  /** Full readings at time-asked passes, paced by their CPU time. */
  private readonly fullReadingPace = new CostPace(FULL_READING_SHARE);
  /** Periodic passes that read incrementally, paced by their CPU time. */
  private readonly periodicPace = new CostPace(PERIODIC_PASS_SHARE);
  /** When the last periodic pass was taken (clock ms; undefined: none yet). */
  private lastPeriodicAt: number | undefined;
  /** When the last full pass was taken (clock ms; undefined: none yet). */
  private lastFullAt: number | undefined;
  /** What time asked for, since the last pass. */
  private timedWanted: 'tick' | 'deadline' | undefined;

  constructor(private readonly options: SchedulerOptions) {}

  /** Requests are taken from now on (the first pass is the caller's, through runNow; the tick, startTicking's). */
  start(): void {
    this.running = true;
  }

  /** Starts the periodic tick (a daemon that watches; `--once` does not). */
  startTicking(): void {
    const tick = (): void => {
      this.tickTimer = this.options.clock.setTimeout(() => {
        tick();
        this.options.onTick?.();
        if (this.fullWanted || this.periodicDue()) this.request({ timed: 'tick' });
      }, this.options.intervalMs);
    };
    if (this.running && this.tickTimer === undefined) tick();
  }

  /** The next pass reads everything (a cached reading could not be trusted). */
  wantFull(): void {
    this.fullWanted = true;
  }

  /**
   * Asks for a pass soon. A check-in alone (`lazy`) can only make a worker healthier and every deadline
   * has a timer of its own, so check-ins are batched into at most one pass per checkinBatchMs; a process
   * end asks at once; anything else makes the next pass a full one, after the debounce.
   */
  request(kind: RequestKind = {}): void {
    if (!this.running) return;
    if (kind.timed !== undefined) {
      if (this.timedWanted !== 'tick') this.timedWanted = kind.timed;
      this.schedule(this.options.debounceMs);
      return;
    }
    if (kind.lazy === true) {
      for (const id of kind.checkins ?? []) this.checkins.add(id);
      if (kind.checkins === undefined) this.fullWanted = true;
      if (this.lazyTimer !== undefined || this.passTimer !== undefined || this.passSoon !== undefined) return;
      const { clock, debounceMs, intervalMs } = this.options;
      const batch = this.checkinBatch();
      // As long as the periodic pass's interval: that pass reads them.
      if (batch >= intervalMs && this.tickTimer !== undefined) return;
      const delay = Math.max(debounceMs, this.lastPassEndedAt + batch - clock.now());
      this.lazyTimer = clock.setTimeout(() => {
        this.lazyTimer = undefined;
        // A pass since (the periodic one, say) took these check-ins: nothing is left to read.
        if (this.checkins.size > 0 || this.fullWanted || this.exits.size > 0) this.schedule(debounceMs);
      }, delay);
      return;
    }
    if (kind.processEnded === true) {
      for (const id of kind.exits ?? []) this.exits.add(id);
      // Only that worker's process changed: an incremental reading sees it. At once: nothing else is coming to batch with it.
      this.schedule(0);
      return;
    }
    this.fullWanted = true;
    this.schedule(this.options.debounceMs);
  }

  /**
   * How long check-ins alone wait for a pass: checkinBatchMs, or longer when the passes they ask for cost more than
   * CHECKIN_PASS_SHARE of a core at that pace, but never past the periodic pass (which reads every check-in anyway).
   * Each check-in is still read as it arrives (HomeWatch): only its event and its worker's health wait.
   */
  checkinBatch(): number {
    const { checkinBatchMs, intervalMs } = this.options;
    return this.checkinPace.spacing(checkinBatchMs, intervalMs);
  }

  /**
   * How often a time-asked pass reads everything: at every tick while a full reading costs under FULL_READING_SHARE of
   * the interval, else as often as that share allows, and at least every FULL_READING_MAX_TICKS ticks.
   */
  fullReadingEvery(): number {
    const { intervalMs } = this.options;
    return this.fullReadingPace.spacing(intervalMs, intervalMs * FULL_READING_MAX_TICKS);
  }

  /** How often the periodic pass runs: at every tick while it costs under PERIODIC_PASS_SHARE of the interval, else every PERIODIC_MAX_TICKS. */
  periodicEvery(): number {
    const { intervalMs } = this.options;
    return this.periodicPace.spacing(intervalMs, intervalMs * PERIODIC_MAX_TICKS);
  }

  /** Whether a tick now asks for its pass (due a little early, half an interval: ticks come an interval apart). */
  private periodicDue(): boolean {
    return this.lastPeriodicAt === undefined || this.options.clock.now() - this.lastPeriodicAt >= this.periodicEvery() - this.options.intervalMs / 2;
  }

  /** Looks at these workers' processes again after `ms` (a shim seen alive after writing its exit record). */
  recheckExits(ids: Iterable<string>, ms: number): void {
    for (const id of ids) this.exits.add(id);
    if (this.exits.size === 0 || this.recheckTimer !== undefined || !this.running) return;
    this.recheckTimer = this.options.clock.setTimeout(() => {
      this.recheckTimer = undefined;
      this.request({ processEnded: true });
    }, ms);
  }

  /** A full pass in `ms` (a decision waiting for time to pass: a vanished spec's hold); one such timer at a time. */
  fullPassIn(ms: number): void {
    if (!this.running || this.fullTimer !== undefined) return;
    this.fullTimer = this.options.clock.setTimeout(() => {
      this.fullTimer = undefined;
      this.fullWanted = true;
      this.request();
    }, ms);
  }

  /**
   * A deadline sooner than the next periodic pass can be (a check-in timeout, a restart time) gets a pass of its own, on
   * time: one within PERIODIC_MAX_TICKS intervals, since a paced tick may be skipped. A later one is armed again by a
   * periodic pass before it falls due.
   */
  wakeAt(deadline: number | null): void {
    const { clock, intervalMs } = this.options;
    if (this.deadlineTimer !== undefined) clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (deadline === null || !this.running) return;
    const delay = Math.max(0, deadline - clock.now()) + 5;
    if (delay >= intervalMs * PERIODIC_MAX_TICKS) return;
    this.deadlineTimer = clock.setTimeout(() => {
      this.deadlineTimer = undefined;
      this.request({ timed: 'deadline' });
    }, delay);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.current !== undefined) {
      this.again = true;
      return;
    }
    if (this.passSoon !== undefined) return;
    const { clock } = this.options;
    if (delayMs === 0 && clock.soon !== undefined) {
      // At once means now, not at the timers' next turn: a pending debounced pass is taken into this one.
      if (this.passTimer !== undefined) clock.clearTimeout(this.passTimer);
      this.passTimer = undefined;
      this.passSoon = clock.soon(() => {
        this.passSoon = undefined;
        if (this.running) void this.runNow();
      });
      return;
    }
    if (this.passTimer !== undefined) return;
    this.passTimer = clock.setTimeout(() => {
      this.passTimer = undefined;
      void this.runNow();
    }, delayMs);
  }

  /** Runs a pass now (or, when one runs, one more right after it) and resolves when they are done. Never throws. */
  runNow(): Promise<void> {
    return this.exclusive(undefined);
  }

  /**
   * Runs `work` now, in the passes' place (no pass runs meanwhile; one asked for meanwhile runs right after it), when
   * no pass is under way; false, and nothing run, when one is. A throw is handed to onError, and the next pass reads in
   * full. For the daemon's restart of a worker on its child's end, which is a pass's decision for that worker alone.
   */
  runAlone(work: () => Promise<void>): boolean {
    if (!this.running || this.current !== undefined) return false;
    void this.exclusive(work);
    return true;
  }

  private async exclusive(first: (() => Promise<void>) | undefined): Promise<void> {
    if (this.current !== undefined) {
      this.again = true;
      return this.current;
    }
    this.current = (async () => {
      if (first !== undefined) {
        try {
          await first();
        } catch (error) {
          this.fullWanted = true;
          this.options.onError(error);
        }
        if (!this.again || !this.running) return;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      do {
        this.again = false;
        const request = this.take();
        try {
          const cost = await this.options.runPass(request);
          const cpuMs = typeof cost === 'number' ? cost : cost?.cpuMs;
          const readingMs = typeof cost === 'number' ? cost : cost?.fullReadingMs;
          if (typeof cpuMs === 'number' && !request.full && request.exits.size === 0 && request.checkins.size > 0) this.checkinPace.note(cpuMs);
          if (typeof readingMs === 'number' && request.full) this.fullReadingPace.note(readingMs);
          if (typeof cpuMs === 'number' && request.periodic && !request.full) this.periodicPace.note(cpuMs);
        } catch (error) {
          // What it was asked to read is read again, in full.
          this.fullWanted = true;
          this.options.onError(error);
        }
        this.lastPassEndedAt = this.options.clock.now();
        // One more pass was asked for meanwhile: it runs after a turn of the event loop, so that what came in is read
        // first (a child's end, the launcher's answers, a watch event). Back to back in one chain of promises, passes
        // that each ask for the next (a stop that finds its process already gone) would starve them.
        if (this.again && this.running) await new Promise<void>((resolve) => setImmediate(resolve));
      } while (this.again && this.running);
    })();
    try {
      await this.current;
    } finally {
      this.current = undefined;
    }
  }

  private take(): PassRequest {
    const now = this.options.clock.now();
    // A tick's full reading is due a little early (half an interval): ticks come an interval apart, passes a little after them.
    const due = this.lastFullAt === undefined || now - this.lastFullAt >= this.fullReadingEvery() - this.options.intervalMs / 2;
    const full = this.fullWanted || (this.timedWanted !== undefined && due);
    const request = { full, periodic: this.timedWanted === 'tick', checkins: this.checkins, exits: this.exits };
    if (full) this.lastFullAt = now;
    if (request.periodic) this.lastPeriodicAt = now;
    this.fullWanted = false;
    this.timedWanted = undefined;
    this.checkins = new Set();
    this.exits = new Set();
    return request;
  }

  /** No more passes: every timer cleared; resolves when the pass under way (if any) is done. Idempotent. */
  async stop(): Promise<void> {
    this.running = false;
    const { clock } = this.options;
    for (const timer of [this.passTimer, this.lazyTimer, this.deadlineTimer, this.tickTimer, this.recheckTimer, this.fullTimer]) if (timer !== undefined) clock.clearTimeout(timer);
    this.passTimer = this.lazyTimer = this.deadlineTimer = this.tickTimer = this.recheckTimer = this.fullTimer = undefined;
    if (this.passSoon !== undefined) clock.clearSoon?.(this.passSoon);
    this.passSoon = undefined;
    if (this.current !== undefined) await this.current.catch(() => undefined);
  }
}
