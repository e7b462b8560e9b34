import { assertHomeUsable, homePaths, resolveHome, type HomePaths } from '../store/home.js';

/**
 * The home for commands that only look (health-check, the dashboard, dry runs): resolved and checked like
 * openHome, but no folder is created, so looking changes nothing.
 */
export function openHomeForReading(env: NodeJS.ProcessEnv = process.env): HomePaths {
  const paths = homePaths(resolveHome(env.COMMIT_RELAY_HOME));
  assertHomeUsable(paths);
  return paths;
}
