// Zod-free checks that only ever vouch for values a zod schema accepts too (never looser), so that the lean
// create-task entry can skip loading zod (about 150 ms) for plainly valid files; whatever they cannot vouch
// for goes to the schema, which decides and words the error.
import { jsonDeeperThan, MAX_JSON_DEPTH } from './parse.js';

export type Check = (value: unknown) => boolean;

export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isString: Check = (v) => typeof v === 'string';
export const nonEmptyString: Check = (v) => typeof v === 'string' && v.length > 0;
export const atLeastZero: Check = (v) => typeof v === 'number' && v >= 0;
export const positive: Check = (v) => typeof v === 'number' && v > 0;
export const wholeAtLeast = (min: number): Check => (v) => Number.isSafeInteger(v) && (v as number) >= min;
export const oneOf = (...values: readonly unknown[]): Check => (v) => values.includes(v);
export const argv: Check = (v) => Array.isArray(v) && v.length > 0 && v.every(isString);

/** True when every key of `value` has a check here and passes it (an unknown key: not vouched for). */
export const passesChecks = (value: Record<string, unknown>, checks: Readonly<Record<string, Check>>): boolean =>
  Object.entries(value).every(([key, v]) => {
    const check = Object.hasOwn(checks, key) ? checks[key] : undefined;
    return check !== undefined && check(v);
  });

/** JSON text parsed as an object, or undefined when it is not JSON, not an object, or nested deeper than the schemas' readers allow. */
export function parseObject(text: string): Record<string, unknown> | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  return isPlainObject(raw) && !jsonDeeperThan(text, MAX_JSON_DEPTH) ? raw : undefined;
}
