import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import os from 'node:os';
import { carriesRunToken } from './group.js';
import { isLiveState, keptStatAlive, openProcStat, procPids, readCmdline, readKeptStat, readProcStat, type ProcStat } from './identity.js';

/**
 * What a run costs: every live process that carries the run's token (COMMIT_RELAY_RUN_ID), wherever its
 * process group, with its CPU time and resident memory, read from /proc (Linux). Reading only: nothing
 * here signals a process.
 */
export interface ProcessUsage {
  readonly pid: number;
  readonly ppid: number;
  readonly pgrp: number;
  /** Its argv joined by spaces (the command name in brackets when argv cannot be read). */
  readonly command: string;
  /** Start time in clock ticks since boot (with the pid, the process's identity). */
  readonly startTicks: number;
  /** User plus system CPU time, in clock ticks. */
  readonly cpuTicks: number;
  /** Resident set size, in bytes. */
  readonly rssBytes: number;
  /** CPU use over the process's whole life, in percent of one core. */
  readonly lifeCpuPercent: number;
}

export interface RunUsage {
  readonly processes: readonly ProcessUsage[];
  /** The resident sets of all the run's processes, summed (shared pages counted once per process). */
  readonly rssBytes: number;
  /** CPU use of the run since the sampler's previous sample, in percent of one core; null on the first sample. */
  readonly cpuPercent: number | null;
}

interface SystemUnits {
  readonly ticksPerSecond: number;
  readonly pageBytes: number;
}

const TOKEN = 'COMMIT_RELAY_RUN_ID=';
const TOKEN_BYTES = Buffer.from(TOKEN, 'latin1');
const ENTRY_TOKEN_BYTES = Buffer.from(`\0${TOKEN}`, 'latin1');

/** The run token in an environ's bytes (NUL-separated NAME=value entries), or null. */
export function tokenIn(environ: Buffer): string | null {
  const first = environ.subarray(0, TOKEN_BYTES.length).equals(TOKEN_BYTES);
  const at = first ? 0 : environ.indexOf(ENTRY_TOKEN_BYTES);
  if (at < 0) return null;
  const start = first ? TOKEN_BYTES.length : at + ENTRY_TOKEN_BYTES.length;
  const end = environ.indexOf(0, start);
  const runId = environ.toString('latin1', start, end < 0 ? environ.length : end);
  return runId === '' ? null : runId;
}

let units: SystemUnits | undefined;

function getconf(name: string, fallback: number): number {
  try {
    const value = Number(execFileSync('getconf', [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 }).trim());
    return Number.isInteger(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}

const AT_PAGESZ = 6;
const AT_CLKTCK = 17;

/**
 * CLK_TCK and the page size as the kernel handed them to this process (its auxiliary vector, /proc/self/auxv:
 * where sysconf finds them), without starting a process; undefined where it cannot be read.
 */
function unitsFromAuxv(): SystemUnits | undefined {
  try {
    const auxv = readFileSync('/proc/self/auxv');
    const wide = process.arch.endsWith('64') || process.arch === 's390x';
    const word = wide ? 8 : 4;
    const little = os.endianness() === 'LE';
    const read = (offset: number): number =>
      wide ? Number(little ? auxv.readBigUInt64LE(offset) : auxv.readBigUInt64BE(offset)) : little ? auxv.readUInt32LE(offset) : auxv.readUInt32BE(offset);
    let ticksPerSecond: number | undefined;
    let pageBytes: number | undefined;
    for (let offset = 0; offset + 2 * word <= auxv.length; offset += 2 * word) {
      const type = read(offset);
      if (type === 0) break;
      if (type === AT_CLKTCK) ticksPerSecond = read(offset + word);
      else if (type === AT_PAGESZ) pageBytes = read(offset + word);
    }
    return ticksPerSecond !== undefined && ticksPerSecond > 0 && pageBytes !== undefined && pageBytes > 0 ? { ticksPerSecond, pageBytes } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CLK_TCK and the page size, read once per process from its auxiliary vector; where that cannot be read,
 * asked of getconf (a process start: 100 ms on a busy machine, so not the first choice), else 100 and 4096.
 */
export function systemUnits(): SystemUnits {
  units ??= unitsFromAuxv() ?? { ticksPerSecond: getconf('CLK_TCK', 100), pageBytes: getconf('PAGESIZE', 4096) };
  return units;
}

/** The stat of a live process (a zombie's resources are not the run's any more). */
function liveStat(pid: number): ProcStat | undefined {
  const stat = readProcStat(pid);
  return stat !== undefined && isLiveState(stat.state) ? stat : undefined;
}

function uptimeTicks(ticksPerSecond: number): number {
  try {
    return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * ticksPerSecond;
  } catch {
    return Number.NaN;
  }
}

/** Its argv joined by spaces, or its command name in brackets. */
function commandOf(pid: number, name: string): string {
  const argv = readCmdline(pid);
  return argv !== undefined && argv.length > 0 ? argv.join(' ') : `[${name}]`;
}

/** A process's usage; its command is read from /proc only when asked for (a sample of a thousand runs reads none). */
function usageOf(pid: number, stat: ProcStat, system: SystemUnits, nowTicks: number): ProcessUsage {
  const life = nowTicks - stat.startTicks;
  let command: string | undefined;
  return {
    pid,
    ppid: stat.ppid,
    pgrp: stat.pgrp,
    get command(): string {
      command ??= commandOf(pid, stat.name);
      return command;
    },
    startTicks: stat.startTicks,
    cpuTicks: stat.cpuTicks,
    rssBytes: stat.rssPages * system.pageBytes,
    lifeCpuPercent: Number.isFinite(life) && life > 0 ? Math.round((stat.cpuTicks / life) * 1000) / 10 : 0,
  };
}

/** The live processes of one run, parents before children where the tree allows (a scan of /proc: for a command, not a loop). */
export function runProcesses(runId: string): ProcessUsage[] {
  const system = systemUnits();
  const nowTicks = uptimeTicks(system.ticksPerSecond);
  const found: ProcessUsage[] = [];
  for (const pid of procPids()) {
    if (pid === process.pid || !carriesRunToken(pid, runId)) continue;
    const stat = liveStat(pid);
    if (stat !== undefined) found.push(usageOf(pid, stat, system, nowTicks));
  }
  return treeOrder(found);
}

/** Orders processes so that each comes after its parent (roots by pid first), for a tree view. */
export function treeOrder(processes: readonly ProcessUsage[]): ProcessUsage[] {
  if (processes.length <= 1) return [...processes];
  const byParent = new Map<number, ProcessUsage[]>();
  const pids = new Set(processes.map((p) => p.pid));
  for (const p of processes) {
    const parent = pids.has(p.ppid) ? p.ppid : 0;
    const siblings = byParent.get(parent);
    if (siblings === undefined) byParent.set(parent, [p]);
    else siblings.push(p);
  }
  const ordered: ProcessUsage[] = [];
  const visit = (parent: number): void => {
    for (const child of (byParent.get(parent) ?? []).sort((a, b) => a.pid - b.pid)) {
      ordered.push(child);
      visit(child.pid);
    }
  };
  visit(0);
  return ordered;
}

/**
 * How many /proc/PID/stat fds a sampler keeps open: a quarter of this process's soft limit on open files
 * (/proc/self/limits), at most 4096; beyond it, a process's stat is opened, read and closed each sample.
 */
export function keptFdBound(): number {
  let soft: number;
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const value = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    soft = value === 'unlimited' ? Number.POSITIVE_INFINITY : Number(value);
  } catch {
    soft = Number.NaN;
  }
  // Unreadable: the usual default soft limit, 1024.
  return Math.min(4096, Math.floor((Number.isNaN(soft) || soft < 0 ? 1024 : soft) / 4));
}

/** A process a sample saw (one object per process, updated in place from sample to sample). */
interface Tracked {
  /** Its /proc/PID/stat, kept open (-1: none, beyond the bound). */
  fd: number;
  startTicks: number;
  /** The run it carries (null: none of ours). */
  runId: string | null;
  /** Its CPU ticks at the last sample that wanted its run (null: that sample did not). */
  cpuTicks: number | null;
  /** The last sample that listed it. */
  seenIn: number;
}

/**
 * Samples the resources of many runs at once, for the daemon: one pass over /proc per sample. A process's
 * token is read once (a process cannot lose the environment it started with). Its /proc/PID/stat is kept
 * open (up to keptFdBound() fds) and read again at offset 0 each sample: one system call, and a read that
 * succeeds proves the same process (the fd is tied to it: once it is gone, even with its pid reused, the
 * read fails or reads nothing, and the pid is treated as new). A process not of a wanted run costs that read
 * and nothing else (its line is not parsed); one of a wanted run, the read and a parse of the bytes. A
 * process without a kept fd is opened, read and closed, and is the same while its start ticks are. New
 * processes cost one environ read each. CPU % is the ticks used since the previous sample over the time
 * between them. close() releases the fds (the sampler stays usable, starting afresh).
 */
export class UsageSampler {
  /** pid → the process seen with it. */
  private tracked = new Map<number, Tracked>();
  /** Where environs are read (grown for a bigger one, kept). */
  private environ = Buffer.allocUnsafe(64 * 1024);
  private keptFds = 0;
  private samples = 0;
  private previousAt: number | undefined;

  constructor(private readonly maxKeptFds = keptFdBound()) {}

  /** Every run in `runIds` with at least one live process, and its usage. */
  sample(runIds: ReadonlySet<string>): Map<string, RunUsage> {
    const system = systemUnits();
    const nowTicks = uptimeTicks(system.ticksPerSecond);
    const at = performance.now();
    const elapsedTicks = this.previousAt === undefined ? Number.NaN : ((at - this.previousAt) / 1000) * system.ticksPerSecond;
    const round = (this.samples += 1);
    const byRun = new Map<string, { processes: ProcessUsage[]; usedTicks: number }>();
    for (const pid of procPids()) {
      if (pid === process.pid) continue;
      let known = this.tracked.get(pid);
      let stat: ProcStat | undefined;
      if (known !== undefined && known.fd >= 0) {
        if (known.runId === null || !runIds.has(known.runId)) {
          // Not wanted: a read that succeeds is all it costs (its CPU counts afresh from a sample that wants it).
          if (keptStatAlive(known.fd)) {
            known.cpuTicks = null;
            known.seenIn = round;
            continue;
          }
        } else stat = readKeptStat(known.fd, pid);
        if (stat === undefined || !isLiveState(stat.state)) {
          // Gone (the pid may be another process's now: new), or a zombie, whose resources are not the run's any more.
          this.forget(pid, known);
          known = undefined;
          if (stat !== undefined) continue;
        }
      }
      let same = stat !== undefined;
      let fd = -1;
      if (stat === undefined) {
        if (this.keptFds < this.maxKeptFds) fd = openProcStat(pid) ?? -1;
        stat = fd >= 0 ? readKeptStat(fd, pid) : readProcStat(pid);
        if (stat === undefined || !isLiveState(stat.state)) {
          this.closeFd(fd);
          if (known !== undefined) this.forget(pid, known);
          continue;
        }
        same = known !== undefined && known.startTicks === stat.startTicks;
      }
      const runId = same && known !== undefined ? known.runId : this.tokenOf(pid);
      // The environment read by pid was the kept fd's process's only if that process is still there after it.
      if (!same && fd >= 0 && !keptStatAlive(fd)) {
        this.closeFd(fd);
        if (known !== undefined) this.forget(pid, known);
        continue;
      }
      // A process inside execve can show part of its new environment for an instant: a young one seen without a token is read again next time.
      const young = nowTicks - stat.startTicks < 2 * system.ticksPerSecond;
      const wanted = runId !== null && runIds.has(runId);
      const used = same && known !== undefined && known.cpuTicks !== null ? stat.cpuTicks - known.cpuTicks : stat.cpuTicks;
      // Its CPU ticks count from a sample that wanted its run: one not wanted then starts afresh.
      const cpuTicks = wanted ? stat.cpuTicks : null;
      if (runId === null && young) {
        this.closeFd(fd);
        if (known !== undefined) this.forget(pid, known);
      } else if (known === undefined) {
        this.tracked.set(pid, { fd, startTicks: stat.startTicks, runId, cpuTicks, seenIn: round });
        if (fd >= 0) this.keptFds += 1;
      } else {
        if (fd >= 0) {
          // Only a process without a kept fd gets here with one just opened.
          known.fd = fd;
          this.keptFds += 1;
        }
        known.startTicks = stat.startTicks;
        known.runId = runId;
        known.cpuTicks = cpuTicks;
        known.seenIn = round;
      }
      if (!wanted) continue;
      let entry = byRun.get(runId);
      if (entry === undefined) byRun.set(runId, (entry = { processes: [], usedTicks: 0 }));
      entry.processes.push(usageOf(pid, stat, system, nowTicks));
      entry.usedTicks += Math.max(0, used);
    }
    // The pids no longer listed: their processes are gone.
    for (const [pid, known] of this.tracked) if (known.seenIn !== round) this.forget(pid, known);
    this.previousAt = at;
    const result = new Map<string, RunUsage>();
    for (const [runId, entry] of byRun) {
      let rssBytes = 0;
      for (const p of entry.processes) rssBytes += p.rssBytes;
      result.set(runId, {
        processes: treeOrder(entry.processes),
        rssBytes,
        cpuPercent: Number.isFinite(elapsedTicks) && elapsedTicks > 0 ? Math.round((entry.usedTicks / elapsedTicks) * 1000) / 10 : null,
      });
    }
    return result;
  }

  /** Closes every kept fd and forgets every process: the next sample starts afresh (its CPU % unknown). */
  close(): void {
    for (const [pid, known] of this.tracked) this.forget(pid, known);
    this.previousAt = undefined;
  }

  private forget(pid: number, known: Tracked): void {
    if (known.fd >= 0) {
      this.closeFd(known.fd);
      this.keptFds -= 1;
      known.fd = -1;
    }
    this.tracked.delete(pid);
  }

  private closeFd(fd: number): void {
    if (fd < 0) return;
    try {
      closeSync(fd);
    } catch {
      // Closed already: nothing to release.
    }
  }

  /**
   * The run token this process carries, or null (one environ read, into a buffer kept from call to call, searched as
   * bytes: a fleet's sample meets thousands of new processes a minute). A token of a run not wanted now is kept too:
   * the next sample may want it.
   */
  private tokenOf(pid: number): string | null {
    let fd: number;
    try {
      fd = openSync(`/proc/${pid}/environ`, 'r');
    } catch {
      return null;
    }
    let length = 0;
    try {
      for (;;) {
        const n = readSync(fd, this.environ, length, this.environ.length - length, null);
        if (n === 0) break;
        length += n;
        if (length === this.environ.length) {
          const bigger = Buffer.allocUnsafe(this.environ.length * 2);
          this.environ.copy(bigger, 0, 0, length);
          this.environ = bigger;
        }
      }
    } catch {
      return null;
    } finally {
      closeSync(fd);
    }
    return tokenIn(this.environ.subarray(0, length));
  }
}
