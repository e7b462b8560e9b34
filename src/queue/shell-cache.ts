// What scripts/create-task.sh cannot read cheaply from JSON, left for it by the Node entry: the worker type
// names and the default type (from worker-types.json) and that pm-daemon.json leaves the file backend in use,
// each valid only while both files have the signatures they had when they were read (device, inode, size,
// mtime and ctime, as `stat -L --printf '%n|%d|%i|%s|%.9Y|%.9Z\n'` prints them). The shell compares its own
// stat's output with these lines and hands off to Node on any difference.
import { statSync } from 'node:fs';
import { homeFromEnv } from '../cli/context.js';
import { parseObject, passesChecks } from '../contract/quick-checks.js';
import { readTextIfExists, writeDerivedTextSync } from '../store/atomic.js';
import type { HomePaths } from '../store/home.js';
import { QUICK_SETTINGS_CHECKS } from './quick-settings.js';
import { quickWorkerTypeNames } from './worker-type-names.js';

export const SHELL_CACHE_HEADER = 'commit-relay create-task cache 1';

export const shellCacheFile = (paths: HomePaths): string => paths.shellCache;

const seconds = (ns: bigint): string => `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;

/** The line stat -L prints for `file`; '' when it cannot stat it (stat prints nothing for it then). */
function signature(file: string): string {
  try {
    const s = statSync(file, { bigint: true });
    return `${file}|${s.dev}|${s.ino}|${s.size}|${seconds(s.mtimeNs)}|${seconds(s.ctimeNs)}\n`;
  } catch {
    return '';
  }
}

/**
 * The cache's text for this home now, or undefined when the shell may not decide alone: worker-types.json not
 * plainly valid (the quick check does not vouch for it) or defining no type, or a pm-daemon.json that could
 * choose another backend. The files are stat'ed before they are read: a change in between leaves lines that
 * never match again.
 */
export function shellCacheText(paths: HomePaths): string | undefined {
  const signatures = signature(paths.workerTypes) + signature(paths.daemonConfig);
  const types = readTextIfExists(paths.workerTypes, { followSymlinks: true });
  const names = types === undefined ? undefined : quickWorkerTypeNames(types);
  if (names === undefined || names.length === 0) return undefined;
  const settings = readTextIfExists(paths.daemonConfig, { followSymlinks: true });
  const raw = settings === undefined ? {} : parseObject(settings);
  if (raw === undefined || !passesChecks(raw, QUICK_SETTINGS_CHECKS)) return undefined;
  const defaultType = names.includes('implementation') ? 'implementation' : (names[0] as string);
  return `${SHELL_CACHE_HEADER}\n${defaultType}\n${names.join(' ')}\n${signatures}`;
}

/** Rewrites the home's cache (atomically) when it says something else; never fails the command that calls it. */
export function refreshShellCache(env: NodeJS.ProcessEnv): void {
  try {
    const paths = homeFromEnv(env, { create: false });
    const text = shellCacheText(paths);
    if (text === undefined || readTextIfExists(shellCacheFile(paths)) === text) return;
    writeDerivedTextSync(shellCacheFile(paths), text);
  } catch {
    /* a cache not written only sends the next create-task.sh to Node */
  }
}
