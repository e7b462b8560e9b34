// Byte-level snapshots of a tree, to prove that something changed nothing.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Every folder and file under root (links followed): relative path -> 'dir' for a folder (with a trailing slash),
 * 'special' for a FIFO or device, else the file's bytes in base64; in a stable order.
 * @param {string} root
 * @returns {Record<string, string>}
 */
export function snapshotTree(root) {
  /** @type {Record<string, string>} */
  const out = {};
  /** @param {string} dir */
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const key = relative(root, path);
      const stat = statSync(path);
      if (stat.isDirectory()) {
        out[`${key}/`] = 'dir';
        walk(path);
      } else if (!stat.isFile()) {
        out[key] = 'special'; // A FIFO (the log pipes' pool) is never opened: a read would block.
      } else {
        out[key] = readFileSync(path, 'base64');
      }
    }
  };
  walk(root);
  return out;
}

/** What differs between two snapshots, in words: `changed x`, `removed x`, `added x`. @param {Record<string, string>} before @param {Record<string, string>} after */
export function diffSnapshots(before, after) {
  const changes = [];
  for (const [k, v] of Object.entries(before)) if (after[k] !== v) changes.push(k in after ? `changed ${k}` : `removed ${k}`);
  for (const k of Object.keys(after)) if (!(k in before)) changes.push(`added ${k}`);
  return changes;
}
