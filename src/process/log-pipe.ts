import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '../errors.js';
import type { HomePaths } from '../store/home.js';

/**
 * The pipe a worker writes its output into (its stdout and stderr), drained by the log pipe's `split` in the
 * shim (scripts/lib/worker-shim.sh), which bounds the log on disk by back-pressure.
 *
 * It is a real pipe (a FIFO), not the socket pair Node makes for a child's stdio: a worker may open
 * /dev/stdout or /dev/stderr, which fails on a socket. Node cannot make a FIFO, and running `mkfifo` for each
 * start would cost a process on every start's path (about 10 ms here), so FIFOs are made 32 at a time by one
 * `mkfifo` into a pool (`coordination/.log-pipes/`, mode 700). A start claims one by renaming it (two starters
 * never get the same one), opens both ends (a read-write open first, so neither blocks), and removes its name at
 * once: what remains is an anonymous pipe that only this run's shim and `split` hold.
 */

const POOL_BATCH = 32;
/** A claimed FIFO whose claimer died between the claim and the removal: removed when older than this. */
const STALE_CLAIM_MS = 60_000;

export interface LogPipe {
  /** The read end (the shim hands it to split as its stdin). */
  readonly read: number;
  /** The write end (the worker's stdout and stderr). */
  readonly write: number;
}

export function logPipeDir(paths: HomePaths): string {
  return join(paths.coordination, '.log-pipes');
}

/** A new pipe for one run, or the reason there is none (the worker then writes to its log directly, unbounded). */
export function openLogPipe(paths: HomePaths): LogPipe | { readonly error: string } {
  const dir = logPipeDir(paths);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!lstatSync(dir).isDirectory()) return { error: `${dir} is not a folder` };
    for (let attempt = 0; attempt < 2; attempt++) {
      for (const name of readdirSync(dir)) {
        if (!name.startsWith('p-')) continue;
        const claimed = join(dir, `c-${name.slice(2)}`);
        try {
          renameSync(join(dir, name), claimed);
        } catch {
          continue; // Another starter took it.
        }
        const pipe = openClaimed(claimed);
        if (pipe !== undefined) return pipe;
      }
      refill(dir);
    }
    return { error: `no FIFO could be made in ${dir}` };
  } catch (error) {
    return { error: `cannot make a FIFO in ${dir}: ${describeError(error)}` };
  }
}

/** Both ends of a claimed FIFO, its name removed; undefined when it is not a FIFO (then it is removed). */
function openClaimed(file: string): LogPipe | undefined {
  const opened: number[] = [];
  try {
    const keeper = openSync(file, fsConstants.O_RDWR | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    opened.push(keeper);
    if (!fstatSync(keeper).isFIFO()) {
      closeSync(keeper);
      opened.length = 0;
      return undefined;
    }
    // Blocking ends (the worker's writes must wait when the pipe is full): with the keeper open, neither open blocks.
    const read = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    opened.push(read);
    const write = openSync(file, fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW);
    opened.push(write);
    closeSync(keeper);
    opened.shift();
    return { read, write };
  } catch {
    for (const fd of opened) closeSync(fd);
    opened.length = 0;
    return undefined;
  } finally {
    removeQuietly(file);
  }
}

/** Makes POOL_BATCH new FIFOs with one mkfifo, and removes claims a dead claimer left. */
function refill(dir: string): void {
  const now = Date.now();
  for (const name of readdirSync(dir)) {
    if (!name.startsWith('c-')) continue;
    try {
      // By mtime (a claim's rename keeps it): a live claim removed by mistake only makes its starter try the next FIFO.
      if (now - lstatSync(join(dir, name)).mtimeMs > STALE_CLAIM_MS) unlinkSync(join(dir, name));
    } catch {
      // Gone already.
    }
  }
  const names = Array.from({ length: POOL_BATCH }, () => join(dir, `p-${randomBytes(8).toString('hex')}`));
  execFileSync('mkfifo', ['-m', '600', '--', ...names], { stdio: 'ignore' });
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Removed already.
  }
}

export function closeLogPipe(pipe: LogPipe): void {
  closeSync(pipe.read);
  closeSync(pipe.write);
}
