import { readFileSync } from 'node:fs';
import writeFileAtomic from 'write-file-atomic';
import { errnoCode, RelayError, describeError } from '../errors.js';

export interface WriteOptions {
  /** fsync the file before the rename (durable specs and queues); off for derived, often rewritten files. */
  readonly fsync?: boolean;
}

/** Writes JSON through a temp file and a rename: a reader sees the old file or the new one, never a part. */
export async function writeJsonAtomic(file: string, value: unknown, options: WriteOptions = {}): Promise<void> {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  try {
    await writeFileAtomic(file, text, { fsync: options.fsync ?? true, mode: 0o644 });
  } catch (error) {
    throw new RelayError('IO_FAILED', `cannot write ${file}: ${describeError(error)}`, { cause: error, details: { file, errno: errnoCode(error) } });
  }
}

export function writeJsonAtomicSync(file: string, value: unknown, options: WriteOptions = {}): void {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  try {
    writeFileAtomic.sync(file, text, { fsync: options.fsync ?? true, mode: 0o644 });
  } catch (error) {
    throw new RelayError('IO_FAILED', `cannot write ${file}: ${describeError(error)}`, { cause: error, details: { file, errno: errnoCode(error) } });
  }
}

/** The file's text, or undefined when it does not exist. Other errors throw. */
export function readTextIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw new RelayError('IO_FAILED', `cannot read ${file}: ${describeError(error)}`, { cause: error, details: { file } });
  }
}
