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
  return parts.join('; ') + more;
}

/** Parses JSON text and validates it, throwing an error that names the file and the reason. */
export function parseJsonWith<S extends z.ZodType>(schema: S, text: string, file: string, code: ErrorCode = 'FILE_INVALID'): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new RelayError(code, `${file}: not valid JSON (${(error as Error).message})`, { cause: error, details: { file } });
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new RelayError(code, `${file}: ${formatZodIssues(result.error)}`, { cause: result.error, details: { file } });
  }
  return result.data;
}
