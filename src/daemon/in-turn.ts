/**
 * Runs fn over items with at most `limit` calls under way at once, starting them in the items' order; the results
 * come back in that order. For work that waits on I/O (locks, fsyncs in the thread pool): the waits overlap.
 */
export async function mapInTurn<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return results;
}

/**
 * mapInTurn for items that arrive over time: `push` hands more to the lanes (at most `limit` calls under way, started in
 * the order pushed), `done` resolves once every item pushed so far has been handled. fn reports its own errors (a rejection is
 * ignored).
 */
export class InTurn<T> {
  private readonly queue: T[] = [];
  private running = 0;
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly limit: number,
    private readonly fn: (item: T) => Promise<void>,
  ) {}

  push(items: Iterable<T>): void {
    for (const item of items) this.queue.push(item);
    while (this.running < Math.max(1, this.limit) && this.queue.length > 0) {
      this.running += 1;
      void this.lane();
    }
  }

  done(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async lane(): Promise<void> {
    while (this.queue.length > 0) {
      try {
        await this.fn(this.queue.shift() as T);
      } catch {
        // fn reports its own errors; one it did not must not stop the lane.
      }
    }
    this.running -= 1;
    if (this.running === 0) for (const resolve of this.idle.splice(0)) resolve();
  }
}
