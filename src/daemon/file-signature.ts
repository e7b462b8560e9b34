import { lstatSync, statSync } from 'node:fs';
import { errnoCode } from '../errors.js';
import { signatureOf } from '../store/atomic.js';

/**
 * The signature of the file itself (a link is not followed; store/atomic.ts signatureOf: inode, size, mtime, the
 * version the daemon's caches see); null when it does not exist.
 */
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
    const sig = this.current();
    if (sig === this.last) return false;
    this.last = sig;
    return true;
  }

  /** Whether the file changed since the last changed() (which is left to say so). */
  differs(): boolean {
    return this.current() !== this.last;
  }

  private current(): string {
    try {
      return signatureOf(statSync(this.file));
    } catch {
      return 'absent';
    }
  }

  /** The next changed() says yes (the daemon itself just wrote the file). */
  forget(): void {
    this.last = undefined;
  }
}
