import { statSync } from 'node:fs';
import { RelayError, describeError } from '../errors.js';
import { homePaths, resolveHome, type HomePaths } from '../store/home.js';

/**
 * The home for commands that only look (health-check, the dashboard, dry runs): resolved and checked like
 * openHome, but no folder is created, so looking changes nothing.
 */
export function openHomeForReading(env: NodeJS.ProcessEnv = process.env): HomePaths {
  const paths = homePaths(resolveHome(env.COMMIT_RELAY_HOME));
  let isDir = false;
  try {
    isDir = statSync(paths.home).isDirectory();
  } catch (error) {
    throw new RelayError('HOME_UNUSABLE', `home ${paths.home} is not usable: ${describeError(error)}`, { cause: error });
  }
  if (!isDir) throw new RelayError('HOME_UNUSABLE', `home ${paths.home} is not a folder`);
  return paths;
}
