import { describeError } from '../errors.js';
import type { HomePaths } from '../store/home.js';
import { collectDashboardModel } from './dashboard-model.js';
import { renderDashboard, renderedOverhead } from './dashboard-render.js';

export interface WatchOptions {
  readonly json: boolean;
  readonly color: boolean;
  /** Fixed width; else the terminal's (not on a terminal: nothing is cut). */
  readonly width: number | undefined;
  readonly intervalMs: number;
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
}

const ENTER_SCREEN = '\u001b[?1049h\u001b[?25l';
const LEAVE_SCREEN = '\u001b[?25h\u001b[?1049l';
const HOME = '\u001b[H';
const CLEAR_LINE_END = '\u001b[K';
const CLEAR_BELOW = '\u001b[J';

/**
 * Redraws the dashboard every intervalMs until q, Ctrl-C, SIGINT, SIGTERM or SIGHUP. On a terminal it uses
 * the alternate screen with stdin in raw mode, and restores both on the way out (also if the process exits
 * another way). Not on a terminal (or with --json) it prints one frame after another.
 */
export function watchDashboard(paths: HomePaths, options: WatchOptions): Promise<void> {
  const { stdin, stdout } = options;
  const screen = stdout.isTTY === true && !options.json;
  const rawMode = stdin.isTTY === true;
  return new Promise((resolve) => {
    let stopped = false;
    const restore = (): void => {
      if (rawMode) {
        try {
          stdin.setRawMode(false);
        } catch {
          // The terminal is gone.
        }
      }
      if (screen) stdout.write(LEAVE_SCREEN);
    };
    const draw = (): void => {
      let frame: string;
      try {
        const model = collectDashboardModel(paths);
        if (options.json) {
          frame = `${JSON.stringify(model)}\n`;
        } else {
          const width = options.width ?? (screen ? stdout.columns || 80 : 80);
          const maxRows = screen && stdout.rows ? Math.max(1, stdout.rows - renderedOverhead(model, width)) : undefined;
          frame = renderDashboard(model, { width, wide: options.width === undefined && !screen, color: options.color, maxRows });
        }
      } catch (error) {
        frame = `daemon-monitor: ${describeError(error)}\n`;
      }
      if (screen) stdout.write(`${HOME}${frame.replace(/\n/g, `${CLEAR_LINE_END}\n`)}${CLEAR_BELOW}\u001b[2mq or Ctrl-C to quit\u001b[0m${CLEAR_LINE_END}`);
      else stdout.write(options.json ? frame : `${frame}\n`);
    };
    const onData = (chunk: Buffer | string): void => {
      const text = chunk.toString();
      // q, Ctrl-C (a byte, not a signal, in raw mode) or Ctrl-D.
      if (['q', 'Q', '\u0003', '\u0004'].some((key) => text.includes(key))) stop();
    };
    const onSignal = (): void => stop();
    const timer = setInterval(draw, options.intervalMs);
    function stop(): void {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      stdin.off('data', onData);
      stdin.pause();
      // A paused pipe still holds the event loop open; let go of it so the process can exit.
      (stdin as unknown as { unref?: () => void }).unref?.();
      stdout.off('resize', draw);
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, onSignal);
      process.off('exit', restore);
      restore();
      resolve();
    }
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
    process.on('exit', restore);
    if (screen) {
      stdout.write(ENTER_SCREEN);
      stdout.on('resize', draw);
    }
    if (rawMode) stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.on('error', () => undefined);
    stdin.resume();
    draw();
  });
}
