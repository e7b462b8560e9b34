#!/usr/bin/env node
// Prints the figures of bench/results/*.json as a Markdown table (for docs/benchmarks.md):
//   node bench/report.js
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS } from './lib/common.js';

const order = ['pass', 'cleanup-dry-run', 'latency', 'checkins', 'fleet', 'ps-list'];
const results = readdirSync(RESULTS)
  .filter((f) => f.endsWith('.json') && !f.endsWith('-profile.json'))
  .map((f) => JSON.parse(readFileSync(join(RESULTS, f), 'utf8')))
  .sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));

const cell = (text) => String(text).replace(/\|/g, '\\|');
const lines = ['| benchmark | figure | value | goal | met |', '| --- | --- | ---: | --- | --- |'];
for (const r of results) {
  if (r.error) lines.push(`| ${r.name} | FAILED: ${cell(r.error.split('\n')[0])} | | | |`);
  for (const f of r.figures) {
    const value = f.value === null ? '–' : `${f.value} ${f.unit}`;
    lines.push(`| ${r.name} | ${cell(f.label)} | ${cell(value)} | ${cell(f.goal ?? '')} | ${f.goal === undefined ? '' : f.goal_met ? 'yes' : '**no**'} |`);
  }
}
process.stdout.write(`${lines.join('\n')}\n\n`);
for (const r of results) {
  const m = r.machine;
  process.stdout.write(
    `- ${r.name}: \`${r.command}\`${r.quick ? ' (quick)' : ''}, ${m.date}, ${r.duration_s} s, load average before ${m.load_average_before.join(' / ')}, after ${m.load_average_after.join(' / ')}\n`,
  );
}
