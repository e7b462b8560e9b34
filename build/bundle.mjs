// After tsc: the daemon's lean entry (dist/bin/pm-daemon.js) bundled into dist/bundle/ with esbuild, which
// scripts/pm-daemon.sh runs when it is there. Its 259 modules (the daemon's own, zod, pino, proper-lockfile,
// write-file-atomic) become 46 files, of which node's loader reads those the run needs, and the daemon's start is
// about 55 ms sooner (docs/benchmarks.md). What the daemon loads only when it is asked for stays in chunks of its own (split at each
// import()), and the packages it loads only for the redis backend, metrics or an alert hook stay in node_modules
// (external). Not minified: stack traces keep their names and lines. Without esbuild, or when it cannot run here,
// nothing is bundled, and pm-daemon.sh runs dist/bin/pm-daemon.js as it is; so it does when dist/ has anything newer
// than the bundle (scripts/lib/cli.sh).
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.error('build: esbuild is not installed: the daemon is not bundled, and pm-daemon.sh runs dist/bin/pm-daemon.js');
  process.exit(0);
}

rmSync(outdir, { recursive: true, force: true });
try {
  await esbuild.build({
    entryPoints: { 'pm-daemon': join(root, 'dist', 'bin', 'pm-daemon.js') },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir,
    chunkNames: 'chunk-[hash]',
    external: ['bullmq', 'ioredis', 'prom-client', 'execa'],
    // The CommonJS packages bundled (pino, proper-lockfile, write-file-atomic) call require() and read __filename.
    banner: {
      js: [
        "import { createRequire as __relayCreateRequire } from 'node:module';",
        "import { fileURLToPath as __relayFileURLToPath } from 'node:url';",
        "import { dirname as __relayDirname } from 'node:path';",
        'const require = __relayCreateRequire(import.meta.url);',
        'const __filename = __relayFileURLToPath(import.meta.url);',
        'const __dirname = __relayDirname(__filename);',
      ].join(' '),
    },
    logLevel: 'warning',
  });
} catch (error) {
  // esbuild's code without its binary for this platform (an install with --omit=optional, a node_modules copied from
  // another system): no bundle, and the daemon runs unbundled.
  rmSync(outdir, { recursive: true, force: true });
  console.error(`build: the daemon is not bundled (esbuild: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}): pm-daemon.sh runs dist/bin/pm-daemon.js`);
}
