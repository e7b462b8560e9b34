// Shared pieces of the security tests: a fixture that records its argv, file fingerprints.
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SECURITY_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const ARGV_TO_FILE = join(SECURITY_FIXTURES, 'argv-to-file.sh');

/** The arguments argv-to-file.sh recorded in file, or undefined while it has not written them. */
export function readArgv(file) {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  return text === '' ? [] : text.slice(0, -1).split('\0');
}

/** What a file is and holds, to prove later that nothing wrote to it (through a link or otherwise). */
export function fingerprint(file) {
  const st = lstatSync(file);
  if (st.isSymbolicLink()) {
    const target = readlinkSync(file);
    const t = statSync(target);
    return { file, link: target, content: t.isFile() ? readFileSync(target) : null, mtimeMs: t.mtimeMs, ino: t.ino };
  }
  return { file, link: null, content: st.isFile() ? readFileSync(file) : null, mtimeMs: st.mtimeMs, ino: st.ino };
}

/** A target file's content and mtime, unchanged. */
export function targetPrint(file) {
  const st = statSync(file);
  return { content: st.isFile() ? readFileSync(file) : null, mtimeMs: st.mtimeMs, ino: st.ino };
}
