/** The contract's timestamp text, ISO-8601 UTC (zod-free, for the lean entries; time.ts re-exports it). */
export const nowIso = (ms: number = Date.now()): string => new Date(ms).toISOString();
