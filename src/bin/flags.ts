import { RelayError } from '../errors.js';

/**
 * The value of `--name value` or `--name=value` at argv[i] (`eq`: the index of '=' in it, else -1), as yargs's
 * requiresArg takes it: a next word that is a flag is not this flag's value. Returns the value and the index of the
 * last word it used; a missing value is yargs's error.
 */
export function flagValue(argv: readonly string[], i: number, eq: number, name: string): { readonly value: string; readonly last: number } {
  const arg = argv[i] as string;
  if (eq > 0) return { value: arg.slice(eq + 1), last: i };
  const next = argv[i + 1];
  if (next === undefined || next.startsWith('--')) throw new RelayError('USAGE', `Not enough arguments following: ${name}`);
  return { value: next, last: i + 1 };
}
