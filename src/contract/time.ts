import { z } from 'zod';

/** ISO-8601 UTC timestamp as the contract writes them. */
export const isoTimestamp = z.iso.datetime({ offset: true });

export { nowIso } from './now.js';
