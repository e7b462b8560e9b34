import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** commit-relay's version, from its package.json (read once; node built-ins only, for the lean check-in entry). */
export function relayVersion(): string {
  if (cached === undefined) {
    try {
      const parsed = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
      cached = typeof parsed.version === 'string' ? parsed.version : 'unknown';
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
