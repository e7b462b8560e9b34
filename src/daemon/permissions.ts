import { statSync } from 'node:fs';
import type { HomePaths } from '../store/home.js';

export interface PermissionWarning {
  readonly path: string;
  /** The permission bits, octal, e.g. "777". */
  readonly mode: string;
  readonly message: string;
}

/**
 * The home, coordination/, its config/ folder and the two config files, when writable by the group or by
 * others: whoever can write there decides what the daemon runs (worker-types.json names the commands). A
 * missing path is skipped; config files are checked through a symbolic link (the operator's choice).
 */
export function homePermissionWarnings(paths: HomePaths): PermissionWarning[] {
  const warnings: PermissionWarning[] = [];
  for (const path of [paths.home, paths.coordination, paths.config, paths.workerTypes, paths.daemonConfig]) {
    let mode: number;
    try {
      mode = statSync(path).mode;
    } catch {
      continue;
    }
    const who = [(mode & 0o020) !== 0 ? 'its group' : '', (mode & 0o002) !== 0 ? 'others' : ''].filter(Boolean);
    if (who.length === 0) continue;
    const bits = (mode & 0o777).toString(8).padStart(3, '0');
    warnings.push({ path, mode: bits, message: `${path} is writable by ${who.join(' and ')} (mode ${bits}): they can change what workers run; chmod go-w it` });
  }
  return warnings;
}
