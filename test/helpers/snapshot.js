// Byte-level snapshots of a home, to prove a command changed nothing.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Map of every file under dir (relative path -> sha256); folders are listed with a trailing slash. */
export function snapshot(dir) {
  const out = new Map();
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      const stat = statSync(full);
      if (stat.isDirectory()) {
        out.set(`${relative(dir, full)}/`, '');
        walk(full);
      } else out.set(relative(dir, full), createHash('sha256').update(readFileSync(full)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

export function diffSnapshots(before, after) {
  const changes = [];
  for (const [k, v] of before) if (after.get(k) !== v) changes.push(after.has(k) ? `changed ${k}` : `removed ${k}`);
  for (const k of after.keys()) if (!before.has(k)) changes.push(`added ${k}`);
  return changes;
}
