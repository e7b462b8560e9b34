import { createHash } from 'node:crypto';
import { parseWorkerTypes, type WorkerTypes } from '../config/load.js';
import type { Task } from '../contract/task-queue.js';
import type { WorkerSpec } from '../contract/worker-spec.js';
import type { WorkerType } from '../contract/worker-types.js';
import { nowIso } from '../contract/time.js';
import type { Clock } from '../core/clock.js';
import type { QueuedTask } from '../core/dispatch.js';
import { limitsOf, type Limits } from '../core/limits.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EventInput } from '../store/activity-log.js';
import { readTextIfExists } from '../store/atomic.js';
import type { HomePaths } from '../store/home.js';
import { readTaskQueue } from '../store/tasks.js';
import { WatchedFile } from './file-signature.js';

export interface QueueReading {
  readonly queued: QueuedTask[];
  readonly byId: Map<string, Task>;
}

/** Where worker-types.json stands, for pm-state.json (`configuration.worker_types_file`), the health check and the dashboard. */
export interface WorkerTypesFileStatus {
  readonly path: string;
  /** `invalid`: the file on disk does not load; the version in force is the last good one. */
  readonly status: 'ok' | 'invalid';
  /** The version in force: the first 16 hex digits of its content's sha256. */
  readonly version: string;
  /** When the version in force was loaded (ISO). */
  readonly loaded_at: string;
  /** Why the file on disk does not load, in one line; null while it loads. */
  readonly error: string | null;
  /** Since when the file on disk has not loaded (ISO); null while it loads. */
  readonly invalid_since: string | null;
  /** Types no longer in the file that active workers (or queued tasks) still name: those workers are supervised under the limits they started with, never started again. */
  readonly removed_types: Readonly<Record<string, { readonly worker_ids: readonly string[]; readonly queued_task_ids: readonly string[] }>>;
}

/** An active worker as the type bookkeeping sees it. */
export interface TypedWorker {
  readonly workerId: string;
  readonly workerType: string;
  readonly status: WorkerSpec['status'];
}

const digest = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

/**
 * The two files a pass reads besides the workers': worker-types.json and task-queue.json, each re-read
 * only when it changed. worker-types.json is reloaded on every change; a version that does not load is
 * reported once (`config_invalid`) and the last good one stays in force until the file loads again
 * (`config_reloaded`). A type removed while workers of it are active is kept (retired) for them: they
 * stay supervised, and are never started again. A broken queue dispatches nothing until it is fixed.
 */
export class PassInputs {
  private types: WorkerTypes;
  private typeLimits: Record<string, Limits> = {};
  private readonly retired = new Map<string, WorkerType>();
  private retiredTypeLimits: Record<string, Limits> = {};
  private effective: WorkerTypes;
  private readonly typesFile: WatchedFile;
  private readonly queueFile: WatchedFile;
  private queue: QueueReading = { queued: [], byId: new Map() };
  private version: string;
  private loadedAt: string;
  /** The file on disk does not load: why, since when, and the content (or error) already reported. */
  private invalid: { since: string; error: string; key: string } | null = null;
  /** Missing types already reported (worker_type_removed), with what named them. */
  private readonly missing = new Map<string, { worker_ids: string[]; queued_task_ids: string[] }>();

  constructor(
    private readonly paths: HomePaths,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly reportError: (where: string, error: unknown) => void,
  ) {
    this.typesFile = new WatchedFile(paths.workerTypes);
    this.queueFile = new WatchedFile(paths.taskQueue);
    this.typesFile.changed();
    // At start a bad file is fatal (there is no last good version to keep): the error names it.
    const text = readTextIfExists(paths.workerTypes, { followSymlinks: true });
    this.types = parseWorkerTypes(paths, text);
    this.version = digest(text ?? '');
    this.loadedAt = nowIso(clock.wallNow());
    this.effective = this.types;
    this.noteTypes();
  }

  /** The types in force, and the retired ones still needed to stop or rotate the logs of their workers (`get` knows only the types in force: nothing retired is ever started). */
  get workerTypes(): WorkerTypes {
    return this.effective;
  }

  /** The types in force (without the retired ones). */
  get currentTypes(): WorkerTypes {
    return this.types;
  }

  /** The limits of the types in force. */
  get limits(): Readonly<Record<string, Limits>> {
    return this.typeLimits;
  }

  /** The last known limits of types removed while workers of theirs are active. */
  get retiredLimits(): Readonly<Record<string, Limits>> {
    return this.retiredTypeLimits;
  }

  /** Whether the daemon acts on this spec: a running one always; a pending one when its type is in force or retired. */
  accepts(spec: WorkerSpec): boolean {
    return spec.status !== 'pending' || this.types.types[spec.worker_type] !== undefined || this.retired.has(spec.worker_type);
  }

  get fileStatus(): WorkerTypesFileStatus {
    return {
      path: this.paths.workerTypes,
      status: this.invalid === null ? 'ok' : 'invalid',
      version: this.version,
      loaded_at: this.loadedAt,
      error: this.invalid?.error ?? null,
      invalid_since: this.invalid?.since ?? null,
      removed_types: Object.fromEntries(this.missing),
    };
  }

  /** Whether worker-types.json changed since the last pass looked (that pass's reloadWorkerTypesIfChanged is left to load it). */
  workerTypesFileChanged(): boolean {
    return this.typesFile.differs();
  }

  /**
   * worker-types.json is re-read when it changed. Returns the events to log: `config_invalid` once per
   * content that does not load (the last good version stays in force), `config_reloaded` when a new good
   * version takes over (or the file loads again after a bad edit). Returns whether the types changed.
   */
  reloadWorkerTypesIfChanged(): { events: EventInput[]; changed: boolean } {
    if (!this.typesFile.changed()) return { events: [], changed: false };
    const file = this.paths.workerTypes;
    const wallNow = nowIso(this.clock.wallNow());
    let text: string | undefined;
    let types: WorkerTypes;
    try {
      text = readTextIfExists(file, { followSymlinks: true });
      types = parseWorkerTypes(this.paths, text);
    } catch (error) {
      const reason = describeError(error);
      const key = text === undefined ? `error:${reason}` : digest(text);
      if (this.invalid?.key === key) return { events: [], changed: false };
      const since = this.invalid?.since ?? wallNow;
      this.invalid = { since, error: reason, key };
      this.logger.error({ file, reason, in_force_version: this.version }, `worker-types.json does not load (keeping the last good version, loaded ${this.loadedAt}): ${reason}`);
      return {
        events: [
          {
            event: 'config_invalid',
            data: { file, reason, invalid_since: since, in_force_version: this.version, in_force_loaded_at: this.loadedAt, message: 'the last good worker-types.json stays in force until the file is fixed' },
          },
        ],
        changed: false,
      };
    }
    const recovered = this.invalid !== null;
    this.invalid = null;
    const version = digest(text ?? '');
    if (version === this.version) {
      // Touched, or put back as it was: nothing changes, but a bad edit that is undone is said to be over.
      if (!recovered) return { events: [], changed: false };
      this.logger.info({ file, version }, 'worker-types.json loads again (unchanged from the version in force)');
      return { events: [{ event: 'config_reloaded', data: { file, version, recovered: true, added: [], removed: [], changed: [], worker_types: Object.keys(this.types.types) } }], changed: false };
    }
    const before = this.types.types;
    const after = types.types;
    const added = Object.keys(after).filter((n) => before[n] === undefined);
    const removed = Object.keys(before).filter((n) => after[n] === undefined);
    const changed = Object.keys(after).filter((n) => before[n] !== undefined && JSON.stringify(before[n]) !== JSON.stringify(after[n]));
    for (const name of removed) {
      const definition = before[name];
      if (definition !== undefined) this.retired.set(name, definition);
    }
    for (const name of Object.keys(after)) this.retired.delete(name);
    this.types = types;
    this.version = version;
    this.loadedAt = wallNow;
    this.noteTypes();
    this.logger.info({ file, version, worker_types: Object.keys(after), added, removed, changed }, 'worker-types.json reloaded');
    return { events: [{ event: 'config_reloaded', data: { file, version, recovered, added, removed, changed, worker_types: Object.keys(after) } }], changed: true };
  }

  /**
   * Types that active workers or queued tasks name but worker-types.json no longer defines: each is
   * reported once (`worker_type_removed`, naming them), and forgotten (with its retired definition) once
   * nothing names it or it is back.
   */
  noteMissingTypes(workers: readonly TypedWorker[], queued: readonly QueuedTask[]): EventInput[] {
    const named = new Map<string, { running: string[]; pending: string[]; tasks: string[] }>();
    const entry = (type: string): { running: string[]; pending: string[]; tasks: string[] } => {
      let e = named.get(type);
      if (e === undefined) named.set(type, (e = { running: [], pending: [], tasks: [] }));
      return e;
    };
    for (const w of workers) {
      if (this.types.types[w.workerType] !== undefined) continue;
      if (w.status === 'pending') entry(w.workerType).pending.push(w.workerId);
      else entry(w.workerType).running.push(w.workerId);
    }
    for (const t of queued) if (this.types.types[t.workerType] === undefined) entry(t.workerType).tasks.push(t.taskId);

    const events: EventInput[] = [];
    for (const [type, e] of named) {
      const reported = this.missing.has(type);
      this.missing.set(type, { worker_ids: [...e.running, ...e.pending].slice(0, 100), queued_task_ids: e.tasks.slice(0, 100) });
      if (reported) continue;
      const retired = this.retired.has(type);
      events.push({
        event: 'worker_type_removed',
        data: {
          worker_type: type,
          running_worker_ids: e.running.slice(0, 100),
          pending_worker_ids: e.pending.slice(0, 100),
          queued_task_ids: e.tasks.slice(0, 100),
          limits: retired ? 'its last known definition (or the limits each run started with)' : 'the limits each run started with (else the defaults)',
          message: `worker type "${type}" is not in worker-types.json: its running workers stay supervised under the limits they started with and are not restarted; pending workers and queued tasks of it are not started until the type is back`,
        },
      });
      this.logger.warn({ worker_type: type, running: e.running.length, pending: e.pending.length, queued: e.tasks.length }, `worker type "${type}" is no longer in worker-types.json`);
    }
    for (const type of [...this.missing.keys()]) if (!named.has(type)) this.missing.delete(type);
    let retiredChanged = false;
    for (const type of [...this.retired.keys()]) {
      if (!workers.some((w) => w.workerType === type)) {
        this.retired.delete(type);
        retiredChanged = true;
      }
    }
    if (retiredChanged) this.noteTypes();
    return events;
  }

  /** Queued tasks, re-read only when task-queue.json changed. A broken queue is reported and skipped. */
  readQueue(): QueueReading {
    if (!this.queueFile.changed()) return this.queue;
    try {
      const queuedTasks = readTaskQueue(this.paths).tasks.filter((t) => t.status === 'queued');
      this.queue = {
        queued: queuedTasks.map((t) => ({ taskId: t.task_id, priority: t.priority, createdAt: t.created_at, workerType: t.worker_type })),
        byId: new Map(queuedTasks.map((t) => [t.task_id, t])),
      };
    } catch (error) {
      this.reportError('read task-queue.json', error);
      this.queue = { queued: [], byId: new Map() };
    }
    return this.queue;
  }

  /** The daemon changed the queue itself (dispatch): read it again next time. */
  forgetQueue(): void {
    this.queueFile.forget();
  }

  private noteTypes(): void {
    this.typeLimits = Object.fromEntries(Object.entries(this.types.types).map(([name, type]) => [name, limitsOf(type)]));
    this.retiredTypeLimits = Object.fromEntries([...this.retired].map(([name, type]) => [name, limitsOf(type)]));
    const current = this.types;
    this.effective =
      this.retired.size === 0
        ? current
        : Object.freeze({
            types: Object.freeze({ ...Object.fromEntries(this.retired), ...current.types }),
            defaultType: current.defaultType,
            get: (name: string) => current.get(name),
          });
  }
}
