import { closeSync, constants as fsConstants, fstatSync, fsyncSync, linkSync, lstatSync, openSync, readSync, renameSync, rmSync, writeSync, writevSync } from 'node:fs';
import { errnoCode, RelayError, describeError } from '../errors.js';

export interface WriteOptions {
  /** fsync the file before the rename (durable specs and queues); off for derived, often rewritten files. */
  readonly fsync?: boolean;
}

/** Writes JSON through a temp file and a rename: a reader sees the old file or the new one, never a part. */
export async function writeJsonAtomic(file: string, value: unknown, options: WriteOptions = {}): Promise<void> {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  try {
    // Loaded when first used: the lean entries (create-task.sh) write with writeJsonSync and never pay for it.
    const { default: writeFileAtomic } = await import('write-file-atomic');
    await writeFileAtomic(file, text, { fsync: options.fsync ?? true, mode: 0o644 });
  } catch (error) {
    throw new RelayError('IO_FAILED', `cannot write ${file}: ${describeError(error)}`, { cause: error, details: { file, errno: errnoCode(error) } });
  }
}

let derivedWrites = 0;

/**
 * Writes a derived file the daemon rewrites on every pass (pm-state.json) through a temp file and a
 * rename, like writeJsonAtomic but without fsync, ownership copying or the library's exit handlers:
 * four system calls. write-file-atomic cost about 1.5 ms of CPU per write here (a realpath walk, a stat,
 * a chmod and signal handlers added and removed each time), a third of an idle pass. The temp file is
 * created exclusively (never through a planted link) and removed if the write fails.
 */
export const writeDerivedTextSync = (file: string, text: string | Uint8Array | readonly Uint8Array[]): void => writeTextSync(file, text, { fsync: false });

/**
 * JSON written as writeTextSync writes text: atomic like writeJsonAtomic, in a few system calls and without
 * loading write-file-atomic (create-task.sh's one write of task-queue.json, fsynced).
 */
export const writeJsonSync = (file: string, value: unknown, options: WriteOptions = {}): void => writeTextSync(file, `${JSON.stringify(value, null, 2)}\n`, options);

/**
 * A temp file (created exclusively, fsynced unless told not to) renamed over `file`; the temp file is removed if that
 * fails. Text, or its UTF-8 bytes, whole or in parts (written with writev, never joined in memory: pm-state.json is a
 * part per worker).
 */
export function writeTextSync(file: string, text: string | Uint8Array | readonly Uint8Array[], options: WriteOptions = {}): void {
  const temp = tempName(file);
  try {
    writeTempText(temp, text, options.fsync ?? true);
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw new RelayError('IO_FAILED', `cannot write ${file}: ${describeError(error)}`, { cause: error, details: { file, errno: errnoCode(error) } });
  }
}

/**
 * Replaces an existing file through a temp file and a rename, like writeJsonAtomic, but never creates it:
 * when the file is no longer there at the moment of the rename (moved away meanwhile by someone who does not
 * take our locks: an operator's `mv` into failed/), the temp file is removed and false is returned. The check
 * and the rename are two system calls, so the window left is a few microseconds, not the whole
 * read-modify-write.
 */
export function replaceJsonIfPresentSync(file: string, value: unknown, options: WriteOptions = {}): boolean {
  const temp = tempName(file);
  try {
    writeTempJson(temp, value, options.fsync ?? true);
    if (!isThere(file)) {
      rmSync(temp, { force: true });
      return false;
    }
    renameSync(temp, file);
    return true;
  } catch (error) {
    rmSync(temp, { force: true });
    throw new RelayError('IO_FAILED', `cannot write ${file}: ${describeError(error)}`, { cause: error, details: { file, errno: errnoCode(error) } });
  }
}

/**
 * Creates `file` whole (a temp file, fsynced, then linked to its name) only if nothing has that name: false, with
 * nothing changed, when something does. A reader sees no file or the whole file, and an existing file (or a link
 * planted under the name) is never replaced or written through.
 */
export function createJsonIfAbsentSync(file: string, value: unknown): boolean {
  const temp = tempName(file);
  try {
    writeTempJson(temp, value, true);
    try {
      linkSync(temp, file);
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') return false;
      throw error;
    }
    return true;
  } catch (error) {
    throw new RelayError('IO_FAILED', `cannot create ${file}: ${describeError(error)}`, { cause: error, details: { file, errno: errnoCode(error) } });
  } finally {
    rmSync(temp, { force: true });
  }
}

/** A temp name beside `file`, unique in this process: `<file>.<pid>.<n>.tmp` (never ends in .json). */
function tempName(file: string): string {
  derivedWrites += 1;
  return `${file}.${process.pid}.${derivedWrites}.tmp`;
}

/** Creates `temp` exclusively (never through a planted link) and writes the JSON whole, fsynced if asked. */
function writeTempJson(temp: string, value: unknown, fsync: boolean): void {
  writeTempText(temp, `${JSON.stringify(value, null, 2)}\n`, fsync);
}

function writeTempText(temp: string, text: string | Uint8Array | readonly Uint8Array[], fsync: boolean): void {
  const fd = openSync(temp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o644);
  try {
    if (Array.isArray(text)) writeAllParts(fd, text as readonly Uint8Array[]);
    else {
      const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : (text as Uint8Array);
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    }
    if (fsync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** At most this many parts per writev (the kernel's IOV_MAX on Linux). */
const WRITEV_PARTS = 1024;

/** Every part, in order, with writev; after a short write (rare on a regular file) the rest goes part by part from the byte it stopped at. */
function writeAllParts(fd: number, parts: readonly Uint8Array[]): void {
  for (let at = 0; at < parts.length; at += WRITEV_PARTS) {
    const batch = parts.slice(at, at + WRITEV_PARTS);
    let written = writevSync(fd, batch);
    for (const part of batch) {
      if (written >= part.length) {
        written -= part.length;
        continue;
      }
      for (let off = written; off < part.length; ) off += writeSync(fd, part, off, part.length - off);
      written = 0;
    }
  }
}

function isThere(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw error;
  }
}

export interface ReadOptions {
  /** Follow a symbolic link (operator-owned config may be one); coordination data never is. Default false. */
  readonly followSymlinks?: boolean;
  /** Refuse a larger file rather than load it whole. Default 8 MiB. */
  readonly maxBytes?: number;
}

export const DEFAULT_MAX_READ_BYTES = 8 * 1024 * 1024;

/**
 * A file's version as the daemon's caches see it: (inode, size, mtime). A rename over it (every writer here replaces
 * files whole) changes the inode, an edit in place the size or mtime; the same signature means the cached reading is
 * still the file's content.
 */
export const signatureOf = (stat: { readonly ino: number; readonly size: number; readonly mtimeMs: number }): string => `${stat.ino}:${stat.size}:${stat.mtimeMs}`;

/** What readTextIfChanged found: the file's version, and its text, or that it is the version known, or why it cannot be read. */
export type TextReading =
  | { readonly signature: string; readonly text: string }
  | { readonly signature: string; readonly unchanged: true }
  | { readonly signature: string; readonly error: RelayError };

/**
 * The file's text, or undefined when it does not exist. Only a regular file is read: a symlink (unless
 * followSymlinks), a FIFO or a device is refused without blocking, and so is a file over maxBytes, so a
 * planted link can neither lead a reader out of the home nor hang it.
 */
export function readTextIfExists(file: string, options: ReadOptions = {}): string | undefined {
  const reading = readTextIfChanged(file, undefined, options);
  if (reading === undefined) return undefined;
  if ('error' in reading) throw reading.error;
  return 'text' in reading ? reading.text : '';
}

/**
 * As readTextIfExists, with the version of the file it read (signatureOf; a link's own when the link is refused), and
 * without reading when that version is `known`: one open and one fstat where an lstat, then the read, took two more
 * system calls (the daemon reads a check-in at each of its events). Undefined when the file does not exist; throws
 * IO_FAILED only when even the version cannot be told.
 */
export function readTextIfChanged(file: string, known: string | undefined, options: ReadOptions = {}): TextReading | undefined {
  const flags = fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | (options.followSymlinks ? 0 : fsConstants.O_NOFOLLOW);
  let fd: number;
  try {
    fd = openSync(file, flags);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') return undefined;
    let signature: string;
    try {
      signature = signatureOf(lstatSync(file));
    } catch (statError) {
      if (errnoCode(statError) === 'ENOENT') return undefined;
      throw new RelayError('IO_FAILED', `cannot read ${file}: ${describeError(error)}`, { cause: error, details: { file } });
    }
    if (signature === known) return { signature, unchanged: true };
    if (code === 'ELOOP') return { signature, error: new RelayError('FILE_INVALID', `${file}: is a symbolic link, which is not followed`, { cause: error, details: { file } }) };
    return { signature, error: new RelayError('IO_FAILED', `cannot read ${file}: ${describeError(error)}`, { cause: error, details: { file } }) };
  }
  try {
    let stat;
    try {
      stat = fstatSync(fd);
    } catch (error) {
      throw new RelayError('IO_FAILED', `cannot read ${file}: ${describeError(error)}`, { cause: error, details: { file } });
    }
    const signature = signatureOf(stat);
    if (signature === known) return { signature, unchanged: true };
    if (!stat.isFile()) return { signature, error: new RelayError('FILE_INVALID', `${file}: not a regular file`, { details: { file } }) };
    const max = options.maxBytes ?? DEFAULT_MAX_READ_BYTES;
    if (stat.size > max) return { signature, error: new RelayError('FILE_INVALID', `${file}: ${stat.size} bytes is over the ${max}-byte limit`, { details: { file } }) };
    try {
      return { signature, text: readToSize(fd, stat.size, max) };
    } catch (error) {
      return { signature, error: new RelayError('IO_FAILED', `cannot read ${file}: ${describeError(error)}`, { cause: error, details: { file } }) };
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * The file's bytes as UTF-8: `size` of them (what fstat said it holds; fewer if it shrank), or, when fstat says 0 (a
 * file of /proc, say), whatever a read gives until its end, up to `max`.
 */
function readToSize(fd: number, size: number, max: number): string {
  if (size === 0) {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(8192);
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > max) throw new Error(`over the ${max}-byte limit`);
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks).toString('utf8');
  }
  const buffer = Buffer.allocUnsafe(size);
  let got = 0;
  while (got < size) {
    const n = readSync(fd, buffer, got, size - got, got);
    if (n === 0) break;
    got += n;
  }
  return buffer.toString('utf8', 0, got);
}
