import { createServer, type Server } from 'node:net';
import { errnoCode } from '../errors.js';
import { homeAnchorName } from '../store/daemon-pid.js';

/**
 * One daemon per home, whatever happens to the home's files. The daemon holds an abstract Unix socket
 * (Linux: a name in the kernel, no file) named after the home's real path; the kernel frees it when the
 * process ends, however it ends, and no rm of coordination/ can take it away. A second daemon on the same
 * home cannot bind it. The pid file remains the record people read; the health check also looks for the
 * anchor (store/daemon-pid.ts isHomeAnchorHeld), so a daemon whose pid file was removed is not called gone.
 */
export class HomeAnchor {
  private constructor(private readonly server: Server) {}

  /** Holds the home's anchor; 'held' when another live process holds it already. */
  static async take(home: string): Promise<HomeAnchor | 'held'> {
    const server = createServer((socket) => socket.destroy());
    const outcome = await new Promise<'ok' | 'held' | Error>((resolve) => {
      server.once('error', (error) => resolve(errnoCode(error) === 'EADDRINUSE' ? 'held' : error));
      server.listen(homeAnchorName(home), () => resolve('ok'));
    });
    if (outcome === 'held') return 'held';
    if (outcome instanceof Error) throw outcome;
    // The anchor must never keep the daemon's process alive on its own.
    server.unref();
    return new HomeAnchor(server);
  }

  /** Lets go of the home (idempotent). */
  release(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
  }
}
