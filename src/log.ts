import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** The daemon's JSON log (pino) in agents/logs/system/pm-daemon.log; child loggers bind worker_id. */
export function createFileLogger(file: string, level: string): { logger: Logger; flush: () => void } {
  mkdirSync(dirname(file), { recursive: true });
  const destination = pino.destination({ dest: file, sync: false, mkdir: true });
  const logger = pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
  return {
    logger,
    flush: () => {
      try {
        destination.flushSync();
      } catch {
        /* nothing buffered, or the disk is gone: never crash on the way out */
      }
    },
  };
}

export const silentLogger = (): Logger => pino({ level: 'silent' });
