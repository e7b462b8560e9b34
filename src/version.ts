import { readFileSync } from 'node:fs';

let cached: string | undefined;

/**
 * commit-relay's version, from its package.json: the first found above this module (dist/, or dist/bundle/ for the
 * bundled daemon). Read once; node built-ins only, for the lean check-in entry.
 */
export function relayVersion(): string {
  if (cached === undefined) {
    cached = 'unknown';
    for (const up of ['../package.json', '../../package.json']) {
      try {
        const parsed = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { version?: unknown };
        if (typeof parsed.version === 'string') cached = parsed.version;
        break;
      } catch {
        /* not there: one folder up */
      }
    }
  }
  return cached;
}
