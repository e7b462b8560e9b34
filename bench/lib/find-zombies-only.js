// What cleanup-zombie-workers --dry-run costs without the CLI around it: a fresh node that imports only
// the zombie rule (dist/ops/zombies.js) and prints the count. For bench/cleanup-dry-run.js.
const { homePaths } = await import('../../dist/store/home.js');
const { findZombies } = await import('../../dist/ops/zombies.js');
process.stdout.write(`${findZombies(homePaths(process.env.COMMIT_RELAY_HOME)).length} zombie workers found\n`);
