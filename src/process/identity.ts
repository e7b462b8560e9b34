import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { errnoCode } from '../errors.js';

/**
 * Who a process is, beyond its pid: its start time in clock ticks since boot (/proc/PID/stat field 22)
 * and the boot it belongs to. A pid reused by a later process has another start time; after a reboot,
 * another boot id. Linux only: elsewhere identities cannot be read and nothing is ever signalled.
 */
export interface ProcessIdentity {
  readonly pid: number;
  readonly startTicks: number;
  readonly bootId: string;
}

export type ProcessCheck = 'alive' | 'gone' | 'reused';

let cachedBootId: string | undefined;

export function currentBootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      cachedBootId = 'unknown';
    }
  }
  return cachedBootId;
}

export const currentHost = (): string => hostname();

export interface ProcStat {
  readonly pid: number;
  /** The command name (field 2, at most 15 characters). */
  readonly name: string;
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  readonly startTicks: number;
  /** User plus system CPU time (fields 14 and 15), in clock ticks. */
  readonly cpuTicks: number;
  /** Resident set size (field 24), in pages. */
  readonly rssPages: number;
}

/** Parses /proc/PID/stat; the command name (field 2) may hold spaces and parentheses, so split after the last ')'. */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  // Fields 3 on, space-separated; only the few read here are sliced out (field N starts after the (N - 3)th space).
  const want = [3, 4, 5, 14, 15, 22, 24];
  const values: (string | undefined)[] = [];
  let field = 3;
  let start = close + 2;
  for (const target of want) {
    while (field < target && start > 0) {
      start = text.indexOf(' ', start) + 1;
      field += 1;
    }
    // A field the line does not have reads as undefined (a number from it: NaN).
    if (start <= 0 || start > text.length) break;
    const end = text.indexOf(' ', start);
    values.push(text.slice(start, end < 0 ? undefined : end));
  }
  const [state, ppid, pgrp, utime, stime, startTicks, rss] = values;
  if (state === undefined || !Number.isFinite(pid) || !Number.isFinite(Number(startTicks))) return undefined;
  return { pid, name: text.slice(open + 1, close), state, ppid: Number(ppid), pgrp: Number(pgrp), startTicks: Number(startTicks), cpuTicks: Number(utime) + Number(stime), rssPages: Number(rss) };
}

/** The pids of /proc (Linux); none where it cannot be read. */
export function procPids(): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of entries) {
    // A pid's folder, not self, sys, ...: its name is all digits (the first tells; Number checks the rest).
    const first = entry.charCodeAt(0);
    if (first < 0x30 || first > 0x39) continue;
    const pid = Number(entry);
    if (Number.isSafeInteger(pid)) pids.push(pid);
  }
  return pids;
}

/** One buffer for every stat read: a stat line is a few hundred bytes. */
const statBuffer = Buffer.allocUnsafe(4096);

/** /proc/PID/stat through an open fd, from offset 0, into statBuffer: its length, or undefined (an error, or nothing read: its process is gone). */
function preadStat(fd: number): number | undefined {
  try {
    const length = readSync(fd, statBuffer, 0, statBuffer.length, 0);
    return length > 0 ? length : undefined;
  } catch {
    return undefined;
  }
}

/**
 * /proc/PID/stat read into statBuffer: one open, one read, one close (readFileSync also stats the file and reads
 * again to find its end: a /proc file says it is empty). Its length, or undefined. The daemon reads thousands a minute.
 */
function readStatBytes(pid: number): number | undefined {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/stat`, 'r');
  } catch {
    return undefined;
  }
  try {
    return preadStat(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * /proc/PID/stat opened to be read again (readKeptStat, keptStatAlive): the fd is tied to the process, not to the
 * pid, so once that process is gone (reaped), even with its pid reused, a read through it fails (ESRCH) or reads
 * nothing. Undefined when it cannot be opened. The caller closes it. Close-on-exec, as every fd node opens: a
 * process the daemon starts inherits none.
 */
export function openProcStat(pid: number): number | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return openSync(`/proc/${pid}/stat`, 'r');
  } catch {
    return undefined;
  }
}

/** Whether the process of a kept /proc/PID/stat fd is still there (one read, nothing parsed): false once it is gone. */
export function keptStatAlive(fd: number): boolean {
  return preadStat(fd) !== undefined;
}

/** The stat of the process of a kept /proc/PID/stat fd (one read), or undefined once it is gone. */
export function readKeptStat(fd: number, pid: number): ProcStat | undefined {
  return statFrom(preadStat(fd), pid);
}

const SPACE = 0x20;
const ZERO = 0x30;
/** The fields of /proc/PID/stat read here (1-based, as proc(5) numbers them). */
const STATE = 3;
const PPID = 4;
const PGRP = 5;
const UTIME = 14;
const STIME = 15;
const START_TIME = 22;
const RSS = 24;

/**
 * parseProcStat over the bytes in statBuffer, without making the line a string: the numbers are read digit by digit
 * (a field that is not all digits reads NaN, as Number() would read it), only the command name becomes a string.
 */
function parseStatBytes(length: number): ProcStat | undefined {
  const open = statBuffer.indexOf(0x28);
  const close = statBuffer.lastIndexOf(0x29, length - 1);
  if (open < 0 || open >= length || close < open) return undefined;
  const pid = numberAt(0, open);
  // No array, closure or string per line but the name and a state longer than a letter: the daemon parses thousands a sample.
  let state: string | undefined;
  let ppid = Number.NaN;
  let pgrp = Number.NaN;
  let utime = Number.NaN;
  let stime = Number.NaN;
  let startTicks = Number.NaN;
  let rss = Number.NaN;
  let field = STATE;
  let value = 0;
  let digits = 0;
  for (let i = close + 2; i <= length && field <= RSS; i += 1) {
    const byte = i < length ? statBuffer[i] : SPACE;
    if (byte === SPACE || byte === 0x0a) {
      const number = digits === 0 || value < 0 ? Number.NaN : value;
      if (field === STATE) state = digits === 1 ? String.fromCharCode(statBuffer[i - 1] as number) : statBuffer.toString('utf8', i - digits, i);
      else if (field === PPID) ppid = number;
      else if (field === PGRP) pgrp = number;
      else if (field === UTIME) utime = number;
      else if (field === STIME) stime = number;
      else if (field === START_TIME) startTicks = number;
      else if (field === RSS) rss = number;
      field += 1;
      value = 0;
      digits = 0;
      continue;
    }
    digits += 1;
    const digit = (byte as number) - ZERO;
    value = digit >= 0 && digit <= 9 && value >= 0 ? value * 10 + digit : -1;
  }
  if (state === undefined || !Number.isFinite(pid) || !Number.isFinite(startTicks)) return undefined;
  return { pid, name: statBuffer.toString('utf8', open + 1, close), state, ppid, pgrp, startTicks, cpuTicks: utime + stime, rssPages: rss };
}

/** The number in statBuffer[start, end), spaces around it ignored (as Number() reads a trimmed string; none: NaN). */
function numberAt(start: number, end: number): number {
  let value = Number.NaN;
  let done = false;
  for (let i = start; i < end; i += 1) {
    const byte = statBuffer[i] as number;
    if (byte === SPACE) {
      done = !Number.isNaN(value);
      continue;
    }
    const digit = byte - ZERO;
    if (done || digit < 0 || digit > 9) return Number.NaN;
    value = Number.isNaN(value) ? digit : value * 10 + digit;
  }
  return value;
}

export function readProcStat(pid: number): ProcStat | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return statFrom(readStatBytes(pid), pid);
}

/** The stat just read into statBuffer (its length; undefined: none). */
function statFrom(length: number | undefined, pid: number): ProcStat | undefined {
  if (length === undefined) return undefined;
  // Never seen: a line as long as the buffer may go on; read it whole.
  if (length >= statBuffer.length) return parseProcStatFile(pid);
  return parseStatBytes(length);
}

function parseProcStatFile(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The identity of a live process, or undefined when there is none with that pid (a zombie counts as gone). */
export function readIdentity(pid: number): ProcessIdentity | undefined {
  const stat = readProcStat(pid);
  if (stat === undefined || stat.state === 'Z' || stat.state === 'X') return undefined;
  return { pid, startTicks: stat.startTicks, bootId: currentBootId() };
}

/** Is the recorded process still the one running under that pid? */
export function checkIdentity(recorded: { pid: number; startTicks: number | null | undefined; bootId: string | null | undefined }): ProcessCheck {
  const live = readIdentity(recorded.pid);
  if (live === undefined) return 'gone';
  if (recorded.bootId !== undefined && recorded.bootId !== null && recorded.bootId !== live.bootId) return 'reused';
  if (recorded.startTicks === undefined || recorded.startTicks === null) return 'reused';
  return live.startTicks === recorded.startTicks ? 'alive' : 'reused';
}

/** A worker's run as its spec records it: the process identity, and the run's token. */
export interface RecordedRun {
  readonly pid: number;
  readonly startTicks: number | null | undefined;
  readonly bootId: string | null | undefined;
  /** The run's token (COMMIT_RELAY_RUN_ID), in the environment of every process of the run. */
  readonly runId: string | null | undefined;
}

/**
 * Is the recorded process alive and positively this run's? Its identity (pid, start ticks, boot id) must
 * match, and it must carry the run's token: a spec is not trusted, so a pid and start time written into
 * it by hand never make a stranger ours. 'reused': a live process that is not the run's (a reused pid, or
 * a stranger); 'gone': none. `tokenSeen`: the caller already saw this very process (same pid and start
 * ticks) carry the token, which it cannot lose.
 */
export function checkRun(recorded: RecordedRun, tokenSeen = false): ProcessCheck {
  const check = checkIdentity(recorded);
  if (check !== 'alive' || tokenSeen) return check;
  if (recorded.runId === null || recorded.runId === undefined) return 'reused';
  const token = runTokenOf(recorded.pid, recorded.runId);
  return token === 'ours' ? 'alive' : token === 'gone' ? 'gone' : 'reused';
}

/** A process that runs (not a zombie waiting to be reaped, not dead). */
export const isLiveState = (state: string): boolean => state !== 'Z' && state !== 'X';

/**
 * Whether a process carries the run's token (COMMIT_RELAY_RUN_ID=runId in /proc/PID/environ). A worker
 * forking short-lived commands always has processes in flight: one ending still shows as running in its
 * stat while its environment reads ESRCH, and one inside execve can show part of its new environment for
 * an instant. The first kind is nobody's ('gone'); the second is read again. Only a live process seen
 * without the token every time, or whose environment cannot be read at all (another user's), is a
 * stranger's ('theirs').
 */
export function runTokenOf(pid: number, runId: string): 'ours' | 'theirs' | 'gone' {
  const token = `COMMIT_RELAY_RUN_ID=${runId}`;
  for (let attempt = 0; attempt < 50; attempt += 1) {
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch (error) {
      const code = errnoCode(error);
      return code === 'ESRCH' || code === 'ENOENT' ? 'gone' : 'theirs';
    }
    if (environ.split('\0').includes(token)) return 'ours';
    const stat = readProcStat(pid);
    if (stat === undefined || !isLiveState(stat.state)) return 'gone';
  }
  return 'theirs';
}

/** The argv of a live process (/proc/PID/cmdline), or undefined. */
export function readCmdline(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((part, index, all) => part !== '' || index < all.length - 1);
  } catch {
    return undefined;
  }
}

/**
 * Whether a process with this pid exists (kill(pid, 0): one syscall, where /proc costs an open and a
 * read). No signal is sent. ESRCH: gone; EPERM: someone else's process now; either way false, and the
 * caller's full identity check decides.
 */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the run a spec's `execution` records is alive now (checkRun: identity and token), for a reader
 * with no daemon to ask. 'gone' when it records no process; undefined when that cannot be told: it ran on
 * another host (its /proc is not this one's), or its spec records no start time and the pid is in use.
 */
export function checkRecordedRun(execution: { pid?: number | null; process_start_ticks?: number | null; boot_id?: string | null; run_id?: string | null; host?: string | null } | undefined): ProcessCheck | undefined {
  if (execution?.host !== undefined && execution.host !== null && execution.host !== currentHost()) return undefined;
  if (execution?.pid === undefined || execution.pid === null) return 'gone';
  if (execution.process_start_ticks === undefined || execution.process_start_ticks === null) return pidExists(execution.pid) ? undefined : 'gone';
  return checkRun({ pid: execution.pid, startTicks: execution.process_start_ticks, bootId: execution.boot_id, runId: execution.run_id });
}
