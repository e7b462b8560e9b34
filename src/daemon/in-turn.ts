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
