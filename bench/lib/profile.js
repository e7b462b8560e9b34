// Self time per function from a V8 .cpuprofile (what `node --cpu-prof` or the inspector writes).

/** The functions with the most self time: [{fn, where, ms, pct}], plus the total sampled time. */
export function summarizeProfile(profile, top = 15) {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  const { samples = [], timeDeltas = [] } = profile;
  for (let i = 0; i < samples.length; i += 1) {
    const delta = timeDeltas[i + 1] ?? 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + delta);
  }
  const byFunction = new Map();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byNode.get(id)?.callFrame;
    if (frame === undefined) continue;
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idleUs += us;
      continue;
    }
    totalUs += us;
    const file = frame.url ? frame.url.replace(/^file:\/\//, '').replace(/^.*\/(dist|node_modules)\//, '$1/') : '';
    const key = `${name} ${file}:${frame.lineNumber + 1}`;
    const entry = byFunction.get(key) ?? { fn: name, where: file ? `${file}:${frame.lineNumber + 1}` : '(native)', us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const rows = [...byFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ fn: e.fn, where: e.where, ms: Math.round(e.us / 100) / 10, pct: Math.round((e.us / Math.max(1, totalUs)) * 1000) / 10 }));
  return { busy_ms: Math.round(totalUs / 100) / 10, idle_ms: Math.round(idleUs / 100) / 10, top: rows };
}
