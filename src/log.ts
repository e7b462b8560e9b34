import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * A log sink that never throws and never buffers without bound: each line is one write(2) to the file
 * opened O_APPEND. While writes fail (a full disk) lines are dropped, and a write is tried again at most
 * once a second, so a full disk cannot turn logging into a loop of errors logging errors.
 */
class SafeFileSink {
  private fd: number | undefined;
  private failingSince = 0;
  private dropped = 0;

  constructor(private readonly file: string) {}

  write(line: string): void {
    const now = Date.now();
    if (this.failingSince !== 0 && now - this.failingSince < 1000) {
      this.dropped += 1;
      return;
    }
    try {
      this.fd ??= openSync(this.file, 'a', 0o644);
      const text = this.dropped > 0 ? `{"level":40,"time":"${new Date(now).toISOString()}","msg":"${this.dropped} log lines dropped while the log could not be written"}\n${line}` : line;
      writeSync(this.fd, text);
      this.dropped = 0;
      this.failingSince = 0;
    } catch {
      this.dropped += 1;
      this.failingSince = now;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** The daemon's JSON log (pino) in agents/logs/system/pm-daemon.log; child loggers bind worker_id. */
export function createFileLogger(file: string, level: string): { logger: Logger; flush: () => void } {
  mkdirSync(dirname(file), { recursive: true });
  const sink = new SafeFileSink(file);
  const logger = pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, sink);
  return { logger, flush: () => sink.close() };
}
