import { RelayError } from '../errors.js';
import { assertHomeUsable, homePaths, openHome, resolveHome, type HomePaths } from '../store/home.js';

/** The one place the CLI reads the home from the environment; `create: false` resolves it without creating its folders. */
export function homeFromEnv(env: NodeJS.ProcessEnv = process.env, options: { create?: boolean } = {}): HomePaths {
  if (options.create === false) {
    const paths = homePaths(resolveHome(env.COMMIT_RELAY_HOME));
    assertHomeUsable(paths);
    return paths;
  }
  return openHome(env.COMMIT_RELAY_HOME);
}

/** Parses a JSON flag that must be an object, naming the flag on failure. */
export function parseJsonObjectFlag(flag: string, raw: string | undefined): Record<string, unknown> {
  if (raw === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new RelayError('USAGE', `--${flag} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RelayError('USAGE', `--${flag} must be a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  }
  return value as Record<string, unknown>;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
