// Self time per function from a V8 .cpuprofile (what `node --cpu-prof` or the inspector writes), and for
// the native functions among them (stat, readFileUtf8, ...) the JS call paths that spent it.

const where = (frame) => {
  const file = frame.url ? frame.url.replace(/^file:\/\//, '').replace(/^.*\/(dist|node_modules)\//, '$1/') : '';
  return file ? `${file}:${frame.lineNumber + 1}` : '(native)';
};

/** Self time (µs) by profile node id. */
function selfTimes(profile) {
  const self = new Map();
  const { samples = [], timeDeltas = [] } = profile;
  for (let i = 0; i < samples.length; i += 1) self.set(samples[i], (self.get(samples[i]) ?? 0) + (timeDeltas[i + 1] ?? 0));
  return self;
}

/** The call paths (depth frames up, skipping node: internals) that spent the self time of functions named fn. */
export function callersOf(profile, fn, depth = 3, top = 3) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const paths = new Map();
  let total = 0;
  for (const [id, us] of selfTimes(profile)) {
    const node = byId.get(id);
    if ((node?.callFrame.functionName || '(anonymous)') !== fn || where(node.callFrame) !== '(native)') continue;
    total += us;
    const chain = [];
    let cur = parent.get(id);
    while (cur !== undefined && chain.length < depth) {
      const frame = byId.get(cur).callFrame;
      if (frame.url && !frame.url.startsWith('node:')) chain.push(`${frame.functionName || '(anonymous)'} ${where(frame)}`);
      cur = parent.get(cur);
    }
    const key = chain.length ? chain.join(' < ') : '(no JS caller)';
    paths.set(key, (paths.get(key) ?? 0) + us);
  }
  return [...paths]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([path, us]) => ({ path, ms: Math.round(us / 100) / 10, pct_of_fn: Math.round((us / Math.max(1, total)) * 1000) / 10 }));
}

/** The functions with the most self time: [{fn, where, ms, pct}], the busy and idle time, and who called the hot natives. */
export function summarizeProfile(profile, top = 15) {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfTimes(profile)) {
    const frame = byNode.get(id)?.callFrame;
    if (frame === undefined) continue;
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idleUs += us;
      continue;
    }
    totalUs += us;
    const key = `${name} ${where(frame)}`;
    const entry = byFunction.get(key) ?? { fn: name, where: where(frame), us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const rows = [...byFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ fn: e.fn, where: e.where, ms: Math.round(e.us / 100) / 10, pct: Math.round((e.us / Math.max(1, totalUs)) * 1000) / 10 }));
  const nativeCallers = {};
  for (const row of rows.slice(0, 8)) {
    if (row.where !== '(native)' || row.fn.startsWith('(')) continue;
    nativeCallers[row.fn] = callersOf(profile, row.fn, 3, 3);
  }
  return { busy_ms: Math.round(totalUs / 100) / 10, idle_ms: Math.round(idleUs / 100) / 10, top: rows, native_callers: nativeCallers };
}
