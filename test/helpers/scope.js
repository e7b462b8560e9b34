// One scoped fixture for the tests that start real processes: a temp home, a tracker, and a tear-down that always runs.
import { loadWorkerTypes } from '../../dist/config/load.js';
import { openHome } from '../../dist/store/home.js';
import { spawnDaemon as spawnDaemonOn, startDaemon as startDaemonOn, stopDaemon } from './daemon.js';
import { makeHome, removeHome } from './home.js';
import { ProcessTracker } from './processes.js';

/**
 * @typedef {import('./home.js').WorkerTypes} WorkerTypes
 * @typedef {import('./daemon.js').DaemonProcess} DaemonProcess
 * @typedef {Omit<import('./daemon.js').DaemonOptions, 'tracker'> & { home?: string }} DaemonOptions the daemon's options; `home` another home than the scope's
 * @typedef {{ types?: WorkerTypes, daemonConfig?: Record<string, unknown> }} ScopeOptions
 * @typedef {object} Scope
 * @property {string} home the temp home, its layout made
 * @property {import('../../dist/store/home.js').HomePaths} paths the home's paths
 * @property {ProcessTracker} tracker give it what the test starts itself; it is killed at the end
 * @property {(extra?: Partial<import('../../dist/worker/index.js').LifecycleContext>) => import('../../dist/worker/index.js').LifecycleContext} ctx the context the worker lifecycle functions take
 * @property {(options?: DaemonOptions) => Promise<DaemonProcess>} startDaemon a daemon on this home, stopped at the end
 * @property {(options?: DaemonOptions) => DaemonProcess} spawnDaemon the same, not waiting for its first pass
 * @property {(types?: WorkerTypes, options?: { daemonConfig?: Record<string, unknown> }) => string} makeHome another temp home, removed (and its processes killed) at the end
 * @property {(cleanup: () => unknown) => void} defer runs cleanup in the tear-down, once the daemons are stopped (last deferred, first run)
 * @property {() => Promise<void>} close the tear-down: stops every daemon it started, runs what was deferred, kills every process it tracked or that runs for one of its homes, removes the homes
 */

/**
 * A fresh temp home (worker types `types`, else one `fixture` type) with its layout, and a process tracker.
 * Prefer withHome, which always closes the scope; this is for suites that share one scope between hooks.
 * @param {ScopeOptions} [options]
 * @returns {Scope}
 */
export function openScope({ types, daemonConfig } = {}) {
  const tracker = new ProcessTracker();
  /** @type {string[]} */
  const homes = [];
  /** @type {DaemonProcess[]} */
  const daemons = [];
  /** @type {(() => unknown)[]} */
  const deferred = [];
  /** @type {Scope['makeHome']} */
  const newHome = (homeTypes, homeOptions) => {
    const created = makeHome(homeTypes, homeOptions);
    homes.push(created);
    return created;
  };
  const home = newHome(types, { daemonConfig });
  const paths = openHome(home);
  return {
    home,
    paths,
    tracker,
    ctx: (extra = {}) => ({ paths, workerTypes: loadWorkerTypes(paths), ...extra }),
    makeHome: newHome,
    defer: (cleanup) => void deferred.unshift(cleanup),
    startDaemon: async ({ home: on = home, ...daemonOptions } = {}) => {
      const daemon = await startDaemonOn(on, { ...daemonOptions, tracker });
      daemons.push(daemon);
      return daemon;
    },
    spawnDaemon: ({ home: on = home, ...daemonOptions } = {}) => {
      const daemon = spawnDaemonOn(on, { ...daemonOptions, tracker });
      daemons.push(daemon);
      return daemon;
    },
    close: async () => {
      try {
        await Promise.all(daemons.splice(0).map((daemon) => stopDaemon(daemon, 'SIGKILL')));
        for (const cleanup of deferred.splice(0)) await cleanup();
      } finally {
        for (const each of homes) tracker.killHome(each);
        tracker.cleanup();
        for (const each of homes.splice(0)) removeHome(each);
      }
    },
  };
}

/**
 * Runs body in a fresh scope (see openScope), then closes it whatever the body did or threw.
 * @template T
 * @param {ScopeOptions} options
 * @param {(scope: Scope) => Promise<T>} body
 * @returns {Promise<T>}
 */
export async function withHome(options, body) {
  const scope = openScope(options);
  try {
    return await body(scope);
  } finally {
    await scope.close();
  }
}
