import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, statSync } from 'node:fs';

const CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;
const EMPTY = Buffer.alloc(0);

/** Opens a file for reading, never through a link and never blocking on a FIFO; undefined when it is not there or not a regular file. */
export function openForReading(file: string): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    if (fstatSync(fd).isFile()) return fd;
  } catch {
    // Not there, a link, unreadable: nothing to read.
  }
  if (fd !== undefined) closeSync(fd);
  return undefined;
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const read = readSync(fd, buffer, done, length - done, position + done);
    if (read === 0) break;
    done += read;
  }
  return buffer.subarray(0, done);
}

/**
 * The newline-separated segments of a file's first `end` bytes, last first, read backwards in chunks (a 50 MB
 * file is never read whole to find its last lines). The first segment is what follows the last newline (empty
 * when the file ends with one): a line still being written.
 */
export function* segmentsFromEnd(fd: number, end: number): Generator<Buffer, void, undefined> {
  let position = end;
  let carry: Buffer = EMPTY;
  while (position > 0) {
    const length = Math.min(CHUNK_BYTES, position);
    position -= length;
    const chunk = readAt(fd, position, length);
    let stop = chunk.length;
    for (let i = chunk.length - 1; i >= 0; i -= 1) {
      if (chunk[i] !== NEWLINE) continue;
      yield carry.length === 0 ? chunk.subarray(i + 1, stop) : Buffer.concat([chunk.subarray(i + 1, stop), carry]);
      carry = EMPTY;
      stop = i;
    }
    carry = carry.length === 0 ? chunk.subarray(0, stop) : Buffer.concat([chunk.subarray(0, stop), carry]);
  }
  yield carry;
}

/** The last `count` whole lines before `end` (oldest first) and the unfinished line after them. */
function tailOf(fd: number, end: number, count: number): { lines: string[]; partial: Buffer } {
  const segments = segmentsFromEnd(fd, end);
  const partial = segments.next().value ?? EMPTY;
  const lines: string[] = [];
  if (count > 0) {
    for (const segment of segments) {
      lines.push(segment.toString('utf8'));
      if (lines.length >= count) break;
    }
  }
  // An empty file has no line at all (its only segment is the partial one).
  return { lines: lines.reverse(), partial: Buffer.from(partial) };
}

/** The last `count` lines of a file (the unfinished last one counts), oldest first; none when it cannot be read. */
function lastLinesOfFile(file: string, count: number): string[] {
  const fd = openForReading(file);
  if (fd === undefined) return [];
  try {
    const { lines, partial } = tailOf(fd, fstatSync(fd).size, count);
    if (partial.length > 0) lines.push(partial.toString('utf8'));
    return lines.slice(-count);
  } finally {
    closeSync(fd);
  }
}

/**
 * Follows a log that is rotated by a rename (`output.log` to `output.log.1`, then a new `output.log`): the last
 * lines first (from the rotated file too when the current one holds fewer), then every line appended. A rotation
 * is seen by the inode at the path changing: the old file's remainder is read first (through the descriptor still
 * open), then a rotated file that is neither (a second rotation between two reads), then the new one from its
 * start. A shrink of the same file starts it again from the top. A restart's header is just more lines.
 */
export class LogFollower {
  private fd: number | undefined;
  private ino = -1;
  private offset = 0;
  private pending: Buffer = EMPTY;

  constructor(
    private readonly file: string,
    /** Where a rotation renames it to; undefined for a file that is never rotated (pm-activity.jsonl). */
    private readonly rotated: string | undefined,
    private readonly emit: (line: string) => void,
  ) {}

  /** Emits the last `count` lines (the unfinished one is kept for later) and starts following at the end. */
  start(count: number): void {
    this.fd = openForReading(this.file);
    let lines: string[] = [];
    if (this.fd !== undefined) {
      const stat = fstatSync(this.fd);
      const tail = tailOf(this.fd, stat.size, count);
      lines = tail.lines;
      this.pending = tail.partial;
      this.ino = stat.ino;
      this.offset = stat.size;
    }
    if (lines.length < count && this.rotated !== undefined) lines = [...lastLinesOfFile(this.rotated, count - lines.length), ...lines];
    for (const line of lines) this.emit(line);
  }

  /** Emits what was written since the last call, across rotations. */
  poll(): void {
    if (this.fd !== undefined) this.drain();
    const ino = inodeOf(this.file);
    if (ino === undefined) return;
    if (ino === this.ino && this.fd !== undefined) {
      if (fstatSync(this.fd).size < this.offset) this.restartFile();
      return;
    }
    const next = openForReading(this.file);
    if (next === undefined) return;
    const nextIno = fstatSync(next).ino;
    if (this.fd !== undefined) {
      // Rotated: the old file's rest (a writer may have finished its chunk since), then one lost in between.
      this.drain();
      this.flushPending();
      closeSync(this.fd);
      const between = this.rotated === undefined ? undefined : inodeOf(this.rotated);
      if (this.rotated !== undefined && between !== undefined && between !== this.ino && between !== nextIno) this.readWhole(this.rotated);
    }
    this.fd = next;
    this.ino = nextIno;
    this.offset = 0;
    this.pending = EMPTY;
    this.drain();
  }

  /** Stops following; with `flush`, the unfinished last line is emitted as it is. */
  close(flush = false): void {
    if (flush) this.flushPending();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private restartFile(): void {
    this.offset = 0;
    this.pending = EMPTY;
    this.drain();
  }

  private drain(): void {
    if (this.fd === undefined) return;
    for (;;) {
      const chunk = readAt(this.fd, this.offset, CHUNK_BYTES);
      if (chunk.length === 0) return;
      this.offset += chunk.length;
      this.take(chunk);
    }
  }

  private take(chunk: Buffer): void {
    let data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (let newline = data.indexOf(NEWLINE); newline >= 0; newline = data.indexOf(NEWLINE)) {
      this.emit(data.subarray(0, newline).toString('utf8'));
      data = data.subarray(newline + 1);
    }
    this.pending = Buffer.from(data);
  }

  private flushPending(): void {
    if (this.pending.length > 0) this.emit(this.pending.toString('utf8'));
    this.pending = EMPTY;
  }

  private readWhole(file: string): void {
    const fd = openForReading(file);
    if (fd === undefined) return;
    try {
      for (let offset = 0; ; ) {
        const chunk = readAt(fd, offset, CHUNK_BYTES);
        if (chunk.length === 0) break;
        offset += chunk.length;
        this.take(chunk);
      }
      this.flushPending();
    } finally {
      closeSync(fd);
    }
  }
}

function inodeOf(file: string): number | undefined {
  try {
    return statSync(file).ino;
  } catch {
    return undefined;
  }
}

/** The last `count` lines of a rotated log (the current file, then the rotated one before it; an unfinished last line counts), oldest first. */
export function lastLogLines(file: string, rotated: string, count: number): string[] {
  if (count <= 0) return [];
  const lines: string[] = [];
  const follower = new LogFollower(file, rotated, (line) => lines.push(line));
  follower.start(count);
  follower.close(true);
  return lines.slice(-count);
}
