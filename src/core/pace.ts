/**
 * A recurring job kept to a share of one core by spacing it by its cost: each run's CPU time is noted and averaged
 * (the last runs weigh most), and the job waits that average over the share between runs, within the caller's
 * bounds. The check-in batch, the full reading and the resource sample are paced so (daemon/scheduler.ts,
 * daemon/resources.ts).
 */
export class CostPace {
  /** The CPU time of a run, averaged (ms; undefined until one was noted). */
  private averageMs: number | undefined;

  /** `share`: of one core, e.g. 0.005 for half a percent. */
  constructor(private readonly share: number) {}

  /** One run's CPU time, in ms. */
  note(cpuMs: number): void {
    this.averageMs = this.averageMs === undefined ? cpuMs : 0.7 * this.averageMs + 0.3 * cpuMs;
  }

  /** The time between runs: the average cost over the share, but at least minMs and at most maxMs (minMs until a run was noted). */
  spacing(minMs: number, maxMs: number): number {
    const byCost = this.averageMs === undefined ? 0 : this.averageMs / this.share;
    return Math.max(minMs, Math.min(maxMs, byCost));
  }
}
