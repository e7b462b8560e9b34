import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../../errors.js';

/** The log a worker's output goes to (src/process/spawn.ts) and the one it is rotated to. */
export const OUTPUT_LOG = 'output.log';
export const ROTATED_LOG = 'output.log.1';

/** How much of a file the first read looks at for its last lines, and the most one poll reads. */
const TAIL_BYTES = 256 * 1024;
const MAX_READ_BYTES = 1024 * 1024;

export interface LogFollowOptions {
  /** The worker's log folder (agents/logs/<id>). */
  readonly dir: string;
  /** Lines of history sent first. */
  readonly lines: number;
  readonly pollMs: number;
  /** Complete lines, in order; a line still being written is held until its newline. */
  onLines(lines: string[]): void;
}

interface Position {
  readonly ino: number;
  pos: number;
}

async function statOrUndefined(file: string): Promise<{ ino: number; size: number } | undefined> {
  try {
    const s = await stat(file);
    return { ino: s.ino, size: s.size };
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

async function readRange(file: string, start: number, end: number): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(Math.max(0, end - start));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** The last `limit` lines of a file's last TAIL_BYTES (the first, maybe cut, line dropped when the read did not start at 0). */
async function lastLines(file: string, size: number, limit: number): Promise<string[]> {
  const start = Math.max(0, size - TAIL_BYTES);
  const lines = (await readRange(file, start, size)).split('\n');
  if (start > 0) lines.shift();
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(-limit);
}

/**
 * Follows a worker's output.log: its last lines first (from output.log.1 too when output.log has fewer),
 * then each line as it is appended, across rotation (output.log renamed to output.log.1: the rest of the
 * old file is read there, then the new one from its start) and truncation. One stat per poll; close() stops it.
 */
export class LogFollower {
  private readonly file: string;
  private readonly rotated: string;
  private current: Position | undefined;
  private partial = '';
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private closed = false;

  constructor(private readonly options: LogFollowOptions) {
    this.file = join(options.dir, OUTPUT_LOG);
    this.rotated = join(options.dir, ROTATED_LOG);
  }

  async start(): Promise<void> {
    const now = await statOrUndefined(this.file);
    let history: string[] = [];
    if (now !== undefined) {
      history = await lastLines(this.file, now.size, this.options.lines);
      this.current = { ino: now.ino, pos: now.size };
    }
    if (history.length < this.options.lines) {
      const old = await statOrUndefined(this.rotated);
      if (old !== undefined) history = [...(await lastLines(this.rotated, old.size, this.options.lines - history.length)), ...history];
    }
    if (history.length > 0) this.options.onLines(history);
    if (this.closed) return;
    this.timer = setInterval(() => void this.poll(), this.options.pollMs);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  private async poll(): Promise<void> {
    if (this.busy || this.closed) return;
    this.busy = true;
    try {
      await this.catchUp();
    } catch {
      // A file that went away between a stat and a read: the next poll sees the new state.
    } finally {
      this.busy = false;
    }
  }

  private async catchUp(): Promise<void> {
    const now = await statOrUndefined(this.file);
    if (now === undefined) return;
    const current = this.current;
    if (current !== undefined && current.ino !== now.ino) {
      // Rotated: what was appended to the old file before the rename is in output.log.1.
      const old = await statOrUndefined(this.rotated);
      if (old !== undefined && old.ino === current.ino && old.size > current.pos) this.emit(await this.readFrom(this.rotated, current.pos, old.size));
      this.flushPartial();
      this.current = undefined;
    }
    const position = (this.current ??= { ino: now.ino, pos: 0 });
    if (now.size < position.pos) {
      position.pos = 0;
      this.partial = '';
    }
    if (now.size > position.pos) {
      const end = Math.min(now.size, position.pos + MAX_READ_BYTES);
      const text = await this.readFrom(this.file, position.pos, end);
      position.pos = end;
      this.emit(text);
    }
  }

  private async readFrom(file: string, start: number, end: number): Promise<string> {
    return readRange(file, start, Math.min(end, start + MAX_READ_BYTES));
  }

  private emit(text: string): void {
    if (this.closed || text === '') return;
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    if (parts.length > 0) this.options.onLines(parts);
  }

  /** A rotated file's last line without a newline is still a line. */
  private flushPartial(): void {
    if (this.partial !== '' && !this.closed) this.options.onLines([this.partial]);
    this.partial = '';
  }
}
