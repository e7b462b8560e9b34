import { lstatSync, statSync } from 'node:fs';
import { errnoCode } from '../errors.js';
import { signatureOf } from '../store/atomic.js';

/**
 * A file's version as the daemon's caches see it: signatureOf, (inode, size, mtime). A rename over it (every writer
 * here replaces files whole) changes the inode, an edit in place the size or mtime; the same signature means the
 * cached reading is still the file's content.
 */
export { signatureOf };

/** The signature of the file itself (a link is not followed); null when it does not exist. */
export function lstatSignature(file: string): string | null {
  try {
    return signatureOf(lstatSync(file));
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return null;
    throw error;
  }
}

/** A file re-read only when its signature changed: `changed()` says whether it did since the last call (then remembers it). */
export class WatchedFile {
  private last: string | undefined;

  constructor(private readonly file: string) {}

  changed(): boolean {
    let sig: string;
    try {
      sig = signatureOf(statSync(this.file));
    } catch {
      sig = 'absent';
    }
    if (sig === this.last) return false;
    this.last = sig;
    return true;
  }

  /** The next changed() says yes (the daemon itself just wrote the file). */
  forget(): void {
    this.last = undefined;
  }
}
