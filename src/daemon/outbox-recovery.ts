import { closeSync, fstatSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkerSpec } from '../contract/worker-spec.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EventInput } from '../store/activity-log.js';
import type { HomePaths } from '../store/home.js';
import { readSpec } from '../store/specs.js';
import { OUTBOX_KEEP_MS, isSelf, outboxOf, writerAlive, type LoggedEvent, type OutboxGroup } from '../worker/outbox.js';

/** How far back the log is read for the ids of a group, before the group's own time. */
const LOG_MARGIN_MS = 5 * 60 * 1000;
/** The most of pm-activity.jsonl read from its end in one recovery. */
const MAX_TAIL_BYTES = 64 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;
const EVENT_ID = /"event_id":"([^"]+)"/;
const TIMESTAMP = /^\{"timestamp":"([^"]+)"/;

/**
 * The daemon's half of worker/outbox.ts: finds the outbox groups of writers that were killed before
 * appending them (their process is gone), looks for their event ids at the end of pm-activity.jsonl, and
 * appends those missing, once, with their own timestamps and `"recovered": true`. Run at the daemon's
 * first pass and with the slow housekeeping (every 12th full pass). The daemon is the only recoverer (one
 * daemon per home), a writer still alive appends its own, and an id read in two versions of a spec (the
 * pass's view of active/ and the file it moved since) is taken once, so no event is appended twice.
 */
export class OutboxRecovery {
  /** Event ids known to be in the log: not looked for again. */
  private verified = new Set<string>();
  /** Finished specs changed since then are read (wall ms); at first, as far back as groups are kept. */
  private since: number | undefined;

  constructor(
    private readonly paths: HomePaths,
    private readonly logger: Logger,
    private readonly append: (events: readonly EventInput[]) => void,
  ) {}

  /** `active`: the specs in active/ as the pass read them. Returns how many events it appended. */
  recover(active: readonly WorkerSpec[], wallNow: number): number {
    const since = this.since ?? wallNow - OUTBOX_KEEP_MS;
    let nextSince = wallNow;
    const due: { group: OutboxGroup; events: LoggedEvent[] }[] = [];
    const seen = new Set<string>();
    const consider = (spec: WorkerSpec): void => {
      for (const group of outboxOf(spec)) {
        const at = Date.parse(group.at);
        if (!Number.isFinite(at) || wallNow - at > OUTBOX_KEEP_MS || isSelf(group.writer)) continue;
        // The same group can be read twice in one recovery: a spec the pass saw in active/ and then moved to
        // completed/ or failed/ (its later writer keeps the group) is in `active` and in the finished folder.
        // Each id is taken once, or a group nobody logged would be appended twice.
        const open = group.events.filter((e) => !this.verified.has(e.event_id) && !seen.has(e.event_id));
        for (const e of group.events) seen.add(e.event_id);
        if (open.length === 0) continue;
        if (writerAlive(group.writer)) {
          // It appends its own; looked at again next time, if it is killed first.
          nextSince = Math.min(nextSince, at);
          continue;
        }
        due.push({ group, events: open });
      }
    };
    for (const spec of active) consider(spec);
    for (const folder of ['completed', 'failed'] as const) for (const spec of this.finishedSince(folder, since - LOG_MARGIN_MS)) consider(spec);
    this.since = nextSince;
    this.verified = new Set([...this.verified].filter((id) => seen.has(id)));
    if (due.length === 0) return 0;

    const oldest = Math.min(...due.map((d) => Date.parse(d.group.at)));
    const logged = this.loggedIds(oldest - LOG_MARGIN_MS);
    const missing: LoggedEvent[] = [];
    for (const { events } of due) {
      for (const e of events) {
        if (!logged.has(e.event_id)) missing.push(e);
        this.verified.add(e.event_id);
      }
    }
    if (missing.length === 0) return 0;
    missing.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    this.logger.warn({ events: missing.length }, 'appending events whose writer was killed before it logged them');
    this.append(missing.map((e) => ({ ...e, recovered: true })));
    return missing.length;
  }

  /** The valid specs of a finished folder whose file changed at or after `since` (a folder unchanged since then is skipped whole). */
  private finishedSince(folder: 'completed' | 'failed', since: number): WorkerSpec[] {
    const dir = this.paths.specDir(folder);
    const specs: WorkerSpec[] = [];
    try {
      if (statSync(dir).mtimeMs < since) return specs;
      for (const name of readdirSync(dir)) {
        if (!name.endsWith('.json')) continue;
        try {
          if (statSync(join(dir, name)).mtimeMs < since) continue;
        } catch {
          continue;
        }
        const read = readSpec(this.paths, folder, name.slice(0, -'.json'.length));
        if (read?.ok === true) specs.push(read.spec);
      }
    } catch (error) {
      this.logger.debug({ folder, err: error }, `cannot list ${dir}: ${describeError(error)}`);
    }
    return specs;
  }

  /** The event ids at the end of pm-activity.jsonl, read back to the first line (not itself recovered) older than `cutoff`. */
  private loggedIds(cutoff: number): Set<string> {
    const ids = new Set<string>();
    let fd: number;
    try {
      fd = openSync(this.paths.activity, 'r');
    } catch {
      return ids;
    }
    try {
      let position = fstatSync(fd).size;
      let carry = '';
      let read = 0;
      while (position > 0 && read < MAX_TAIL_BYTES) {
        const length = Math.min(CHUNK_BYTES, position);
        position -= length;
        const buffer = Buffer.alloc(length);
        readSync(fd, buffer, 0, length, position);
        read += length;
        const text = buffer.toString('utf8') + carry;
        const lines = text.split('\n');
        // The first piece may be the end of a line that starts in the chunk before.
        carry = position > 0 ? (lines.shift() ?? '') : '';
        let older = false;
        for (const line of lines) {
          const id = line.match(EVENT_ID)?.[1];
          if (id !== undefined) ids.add(id);
          const stamp = line.match(TIMESTAMP)?.[1];
          if (stamp !== undefined && !line.includes('"recovered":true') && Date.parse(stamp) < cutoff) older = true;
        }
        if (older) break;
      }
    } finally {
      closeSync(fd);
    }
    return ids;
  }
}
