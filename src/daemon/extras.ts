import type { DaemonSettings } from '../config/load.js';
import type { Logger } from '../log.js';
import type { HomePaths } from '../store/home.js';
import type { PassHooks } from './hooks.js';

/** Alerts and metrics ride on each pass. */
export function createPassHooks(_paths: HomePaths, _settings: DaemonSettings, _logger: Logger): PassHooks & { start?(): Promise<void>; close?(): Promise<void> } {
  return {};
}
