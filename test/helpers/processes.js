// Processes a test started, and what /proc says about any process (Linux).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Is pid a process we may see (alive, a zombie, or someone else's)? @param {number} pid */
export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return /** @type {NodeJS.ErrnoException} */ (error).code === 'EPERM';
  }
}

/** The numeric entries of /proc. */
function procPids() {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

/** State, parent and process group of pid from /proc/PID/stat, or undefined once it is gone. @param {number} pid */
export function procStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]), startTicks: Number(fields[19]) };
  } catch {
    return undefined;
  }
}

/** The environment of pid, or undefined when it is gone or not ours. @param {number} pid @returns {Record<string, string> | undefined} */
export function envOf(pid) {
  try {
    /** @type {Record<string, string>} */
    const env = {};
    for (const entry of readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  } catch {
    return undefined;
  }
}

/** Is pid a live process (a zombie counts as dead: where PID 1 does not reap, they stay)? @param {number} pid */
export function isLive(pid) {
  const state = procStat(pid)?.state;
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** The command name of pid (/proc/PID/comm), or undefined once it is gone. @param {number} pid */
function commOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** What a shim runs besides its worker: the log pipe's `split` (scripts/lib/worker-shim.sh). */
const SHIM_HELPERS = new Set(['split']);

/** A fork of the shim that has not run its command yet (its argv is still the shim's). @param {number} pid */
function isShimFork(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((a) => a.endsWith('worker-shim.sh'));
  } catch {
    return false;
  }
}

/**
 * The live pids whose parent is pid; under a shim, its worker only (not the log pipe's `split`, or a fork that
 * has not run its command yet). @param {number} pid
 */
export function childrenOf(pid) {
  return procPids().filter((child) => {
    const stat = procStat(child);
    if (stat === undefined || stat.ppid !== pid || stat.state === 'Z') return false;
    return !SHIM_HELPERS.has(commOf(child) ?? '') && !isShimFork(child);
  });
}

/**
 * The live processes whose argv is the shim of this worker; not a fork of the shim that has not yet run its
 * command (its parent is the shim: the log pipe's and the worker's, for an instant). @param {string} workerId
 */
export function shimPidsOf(workerId) {
  const shims = procPids().filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv.some((a) => a.endsWith('worker-shim.sh')) && argv.includes(workerId) && isLive(pid);
    } catch {
      return false;
    }
  });
  return shims.filter((pid) => !shims.includes(procStat(pid)?.ppid ?? 0));
}

/** Pids whose environment holds NAME=value. @param {string} name @param {string} value */
export function pidsWithEnv(name, value) {
  return procPids().filter((pid) => envOf(pid)?.[name] === value);
}

/** Tracks pids and process groups a test started, and kills them all (SIGKILL) in cleanup. */
export class ProcessTracker {
  constructor() {
    /** @type {Set<number>} */
    this.groups = new Set();
    /** @type {Set<number>} */
    this.pids = new Set();
  }
  /** @template {number | undefined} P @param {P} pgid @returns {P} */
  group(pgid) {
    if (pgid) this.groups.add(pgid);
    return pgid;
  }
  /** @template {number | undefined} P @param {P} pid @returns {P} */
  pid(pid) {
    if (pid) this.pids.add(pid);
    return pid;
  }
  /** Kills every process whose environment names this home (workers the code under test started). @param {string} home */
  killHome(home) {
    for (const pid of pidsWithEnv('COMMIT_RELAY_HOME', home)) this.pids.add(pid);
  }
  cleanup() {
    for (const pgid of this.groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

/** Starts a long-lived unrelated process (its own group) for pid-reuse tests. @param {ProcessTracker} tracker */
export function spawnUnrelated(tracker) {
  const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
  child.unref();
  tracker.group(child.pid);
  return /** @type {number} */ (child.pid);
}

/** The pid of a child process the test started (asserted: it did start). @param {{ pid?: number | undefined }} child */
export function pidOf(child) {
  assert.ok(child.pid !== undefined, 'the process started');
  return child.pid;
}
