export const name = 'fleet';
export const title = 'todo';
export const method = [];
export async function run() { return { figures: [] }; }
