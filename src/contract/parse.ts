import type { z } from 'zod';
import { RelayError, type ErrorCode } from '../errors.js';

/** One line naming the first problems of a zod failure: `worker_types.impl.command: must name a program`. */
export function formatZodIssues(error: z.ZodError, max = 3): string {
  const parts = error.issues.slice(0, max).map((issue) => {
    const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
    if (issue.code === 'unrecognized_keys') return `${where}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    // zod reports a bad record key as "Invalid key in record"; the key schema's own message says why.
    if (issue.code === 'invalid_key') return `${where}: invalid key: ${issue.issues[0]?.message ?? issue.message}`;
    return `${where}: ${issue.message}`;
  });
  const more = error.issues.length > max ? ` (and ${error.issues.length - max} more)` : '';
  return oneLine(parts.join('; ') + more);
}

/**
 * Documents nested deeper are refused: JSON.stringify recurses (some thousands of levels overflow the
 * stack) and the indented rewrite grows with the square of the depth, so a file accepted deeper could be
 * read but never written back (a spec would be started, fail to record its run, and be started again).
 */
export const MAX_JSON_DEPTH = 100;

/** Whether valid JSON text nests arrays and objects deeper than max; a scan of the text, no recursion. */
export function jsonDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i += 1;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth += 1;
      if (depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth -= 1;
  }
  return false;
}

/** Line breaks and other control characters (from a key or a quoted snippet of the file) escaped, so a reason stays one line. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f\u2028\u2029]/g;
export const oneLine = (text: string): string =>
  text.replace(CONTROL_CHARS, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));

/** Parses JSON text and validates it, throwing an error that names the file and the reason. */
export function parseJsonWith<S extends z.ZodType>(schema: S, text: string, file: string, code: ErrorCode = 'FILE_INVALID'): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new RelayError(code, `${file}: not valid JSON (${oneLine((error as Error).message)})`, { cause: error, details: { file } });
  }
  if (jsonDeeperThan(text, MAX_JSON_DEPTH)) throw new RelayError(code, `${file}: nested deeper than ${MAX_JSON_DEPTH} levels`, { details: { file } });
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new RelayError(code, `${file}: ${formatZodIssues(result.error)}`, { cause: result.error, details: { file } });
  }
  return result.data;
}
