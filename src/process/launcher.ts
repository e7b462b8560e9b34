import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { RelayError } from '../errors.js';
import { decodeStatus } from '../store/exits.js';
import { projectRoot } from '../store/home.js';

/**
 * The daemon's launcher: one small perl process (scripts/lib/launcher.pl, perl-base only) that forks the worker
 * shims on the daemon's behalf. A Node process forks itself to spawn, which blocks its loop for 20-40 ms at the
 * daemon's size, so starting a fleet of 100 spent seconds in forks; the launcher forks in well under a millisecond
 * and answers with the pid once the shim has exec'd. It is the shims' parent and reaps them, reporting each end
 * (the daemon's `exit` event for the worker). Started when first needed, it ends when its stdin closes (the daemon
 * stops or dies); the shims, in their own sessions, run on. Nothing here signals a worker.
 */

/** What the launcher starts: exactly this argv, in this folder, with this environment. */
export interface LaunchRequest {
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /**
   * The child's stdout and stderr: 'pipe', a new pipe's write end, its read end the child's fd 3 (the log pipe: the
   * shim's split drains it); an fd of this process (opened anew through /proc/PID/fd); null, /dev/null.
   */
  readonly output: 'pipe' | number | null;
}

/**
 * A launched shim, as a ChildProcess is watched: an `exit` event once the launcher reaped it. Like a ChildProcess,
 * it keeps this process alive until it ends, unless unref()ed.
 */
export class LaunchedChild extends EventEmitter {
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  /** Its launcher died: its end will not be reported (no `exit` comes). */
  orphaned = false;
  private held = true;
  private ending = false;
  constructor(
    readonly pid: number,
    private readonly hold: (by: number) => void,
  ) {
    super();
    hold(1);
  }
  unref(): void {
    if (this.held) this.hold(-1);
    this.held = false;
  }
  ref(): void {
    if (!this.held && this.exitCode === null && this.signalCode === null) this.hold(1);
    this.held = true;
  }
  /**
   * Called with the wait status the launcher reported (as a shell status: the code, or 128 + the signal). As a
   * ChildProcess's, the `exit` comes on a later turn of the loop, never inside the answer that resolved the launch
   * (the launcher may report a start and its end in one read): whoever awaited the launch listens first.
   */
  ended(status: number): void {
    if (this.ending) return;
    this.ending = true;
    setImmediate(() => {
      this.unref();
      const signal = status & 0x7f;
      const { exit_code, signal: name } = decodeStatus(signal !== 0 ? 128 + signal : (status >> 8) & 0xff);
      this.exitCode = exit_code;
      this.signalCode = name as NodeJS.Signals | null;
      this.emit('exit', this.exitCode, this.signalCode);
    });
  }
}

/** Ends reported before the pid's start was (a child that ended at once): kept for its start, a few at most. */
const EARLY_EXITS_KEPT = 256;

const launcherPath = (): string => join(projectRoot(), 'scripts', 'lib', 'launcher.pl');

export class Launcher {
  private process: ChildProcess | undefined;
  private buffered = '';
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (child: LaunchedChild) => void; reject: (error: Error) => void }>();
  private readonly children = new Map<number, LaunchedChild>();
  private readonly earlyExits = new Map<number, number>();
  private closed = false;
  /** Launched children not unref()ed and not ended: with answers awaited, what keeps this process alive. */
  private refs = 0;
  /** Why the launcher could not be started (perl missing, say): then the caller spawns itself. */
  unavailable: string | undefined;

  constructor(private readonly onError: (error: Error) => void = () => undefined) {}

  /** Starts ARGV through the launcher; rejects when it could not (nothing runs then, or the launcher died mid-way). */
  launch(request: LaunchRequest): Promise<LaunchedChild> {
    const launcher = this.ensure();
    const seq = (this.seq += 1);
    const out = request.output === 'pipe' ? '|' : request.output === null ? '' : `/proc/${process.pid}/fd/${request.output}`;
    const env = Object.entries(request.env).filter((e): e is [string, string] => e[1] !== undefined);
    const fields = ['L', String(seq), request.cwd, out, String(env.length), ...env.map(([k, v]) => `${k}=${v}`), String(request.argv.length), ...request.argv];
    if (fields.some((f) => f.includes('\0'))) return Promise.reject(new RelayError('SPAWN_FAILED', 'cannot start: an argument or environment variable holds a NUL byte'));
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      // While an answer is awaited, it keeps this process alive (else a daemon whose first pass starts workers would end).
      this.holdAlive();
      launcher.stdin?.write(`${fields.join('\0')}\0`);
    });
  }

  /** The pid of the launcher that will fork the next launch (the shims' parent), started if it is not running. */
  parentPid(): number {
    const pid = this.ensure().pid;
    // (Not a spawn failure, as a launcher that dies under a launch is not: the start is tried again, without it if it is unavailable.)
    if (pid === undefined) throw new RelayError('IO_FAILED', 'the launcher could not be started');
    return pid;
  }

  /** The launcher's pid while it runs (for a look in /proc). */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Lets the launcher go: its stdin closes and it exits; the workers it started run on. */
  close(): void {
    this.closed = true;
    this.process?.stdin?.end();
    this.process?.unref();
    this.process = undefined;
  }

  private ensure(): ChildProcess {
    if (this.closed) throw new RelayError('SPAWN_FAILED', 'cannot start: the launcher is closed');
    if (this.process !== undefined) return this.process;
    // Its own process group: a Ctrl-C meant for the daemon in a terminal does not end it under a start.
    const child = spawn('perl', [launcherPath()], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    child.stdin?.on('error', () => undefined);
    child.stdout?.setEncoding('latin1');
    child.stdout?.on('data', (chunk: string) => this.read(chunk));
    child.on('error', (error) => this.died(child, error));
    child.on('exit', (code, signal) => this.died(child, new Error(`the launcher ended (${signal ?? `exit code ${code}`})`)));
    child.unref();
    (child.stdin as { unref?: () => void } | null)?.unref?.();
    (child.stdout as { unref?: () => void } | null)?.unref?.();
    this.process = child;
    return child;
  }

  /** The launcher's output keeps this process alive while answers are awaited or a child is held (ref), no longer. */
  private holdAlive(): void {
    const out = this.process?.stdout as { ref?: () => void; unref?: () => void } | null | undefined;
    if (this.pending.size > 0 || this.refs > 0) out?.ref?.();
    else out?.unref?.();
  }

  private read(chunk: string): void {
    this.buffered += chunk;
    let end: number;
    while ((end = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, end);
      this.buffered = this.buffered.slice(end + 1);
      this.answer(line);
    }
  }

  private answer(line: string): void {
    const [kind, a, ...rest] = line.split(' ');
    const n = Number(a);
    if (kind === 'X') {
      const status = Number(rest[0]);
      const child = this.children.get(n);
      if (child !== undefined) {
        this.children.delete(n);
        child.ended(status);
      } else {
        this.earlyExits.set(n, status);
        if (this.earlyExits.size > EARLY_EXITS_KEPT) this.earlyExits.delete(this.earlyExits.keys().next().value as number);
      }
      return;
    }
    const waiting = this.pending.get(n);
    if (waiting === undefined) return;
    this.pending.delete(n);
    this.holdAlive();
    if (kind === 'S') {
      const pid = Number(rest[0]);
      const child = new LaunchedChild(pid, (by) => {
        this.refs += by;
        this.holdAlive();
      });
      const early = this.earlyExits.get(pid);
      waiting.resolve(child);
      if (early !== undefined) {
        this.earlyExits.delete(pid);
        child.ended(early);
      } else this.children.set(pid, child);
    } else waiting.reject(new RelayError('SPAWN_FAILED', `cannot start: ${rest.join(' ')}`));
  }

  /** The launcher is gone: what it was asked is failed (not a spawn failure: the start is tried again); its children are orphans now (the daemon sees their ends by their exit records and pids). */
  private died(child: ChildProcess, error: Error): void {
    if (this.process !== child) return;
    this.process = undefined;
    this.buffered = '';
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') this.unavailable = 'perl is not installed';
    for (const [, waiting] of this.pending) waiting.reject(new RelayError('IO_FAILED', `the launcher ended before answering: ${error.message}`));
    this.pending.clear();
    // Their ends will not be reported: they no longer keep this process alive.
    for (const orphan of this.children.values()) {
      orphan.orphaned = true;
      orphan.unref();
    }
    this.children.clear();
    this.earlyExits.clear();
    if (!this.closed) this.onError(error);
  }
}
