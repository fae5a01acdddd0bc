import { readFileSync } from 'node:fs';
import { slowStatements } from './support/slow-statements';

/** `npm run bench:slow -- <postgresql log> [top]`: auto_explain's plans grouped by statement (docs/benchmarks.md). */
const [file, top = '20'] = process.argv.slice(2);
if (!file) {
  console.error('usage: npm run bench:slow -- <postgresql log file> [how many, default 20]');
  process.exit(2);
}
for (const s of slowStatements(readFileSync(file, 'utf8')).slice(0, Number(top))) {
  console.log(`${String(s.count).padStart(6)} × avg ${(s.totalMs / s.count).toFixed(1).padStart(8)} ms  max ${s.maxMs.toFixed(1).padStart(8)} ms  ${s.statement}`);
  for (const h of s.hints) console.log(`${' '.repeat(14)}↳ ${h}`);
}
