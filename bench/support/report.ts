import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { failureOf } from './load';
import type { BenchOptions, Figures } from './types';

export interface ScenarioResult {
  name: string;
  description: string;
  figures: Figures | null;
  /** Requests per second divided by the baseline's, in this run (with --rounds: in this round). */
  ratioToBaseline: number | null;
  /** The round (1-based) with --rounds > 1. */
  round?: number;
  failure: string | null;
}

export interface RunReport {
  date: string;
  commit: string;
  command: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; platform: string; node: string; loadAverageAtStart: number };
  database: { kind: 'embedded' | 'external'; serverVersion: string };
  options: BenchOptions;
  loadGenerator: string;
  results: ScenarioResult[];
}

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return 'unknown';
  }
}

export function machine(loadAverageAtStart: number): RunReport['machine'] {
  const cpus = os.cpus();
  return {
    cpus: os.availableParallelism(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    // Other work on the machine skews absolute figures; this says how busy it was.
    loadAverageAtStart: Math.round(loadAverageAtStart * 100) / 100,
  };
}

/** `loadAverage`: the machine's 1-minute load average before the run started anything. */
export function newReport(options: BenchOptions, database: RunReport['database'], loadAverage: number): RunReport {
  return {
    date: new Date().toISOString(),
    commit: gitCommit(),
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    machine: machine(loadAverage),
    database,
    options,
    loadGenerator: 'autocannon 9 in a worker thread of the same process; latencies recorded per response',
    results: [],
  };
}

export function addResult(report: RunReport, name: string, description: string, figures: Figures | null, error?: unknown, round?: number): ScenarioResult {
  // The baseline runs first (in each round): its own ratio is 1; the others compare with their round's.
  const first = report.results.find((r) => r.round === round);
  const baseline = first ? first.figures : figures;
  const result: ScenarioResult = {
    name,
    description,
    figures,
    ...(round !== undefined ? { round } : {}),
    ratioToBaseline: figures && baseline ? Math.round((figures.requestsPerSec / baseline.requestsPerSec) * 1000) / 1000 : null,
    failure: error ? (error instanceof Error ? error.message : String(error)) : figures ? failureOf(figures) : 'no figures',
  };
  report.results.push(result);
  return result;
}

/** 1234567 → "1,234,567". */
export const fmt = (n: number) => n.toLocaleString('en-US');
const pct = (r: number | null) => (r === null ? '–' : `${(r * 100).toFixed(1)} %`);
const headline = (f: Figures) => (f.headline ? `${fmt(f.headline.value)} ${f.headline.unit}` : '');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** A result's name in the tables: failed ones marked, rounds numbered. */
const label = (r: ScenarioResult) => `${r.failure ? `${r.name} (FAILED)` : r.name}${r.round ? ` #${r.round}` : ''}`;

/**
 * With --rounds > 1: per scenario, its ratio to the baseline in each round and their median
 * (the machine's noise moves both figures of a round together, so the median of the rounds'
 * ratios is steadier than one ratio or a ratio of averages).
 */
export interface RoundSummary {
  name: string;
  ratios: number[];
  median: number;
  medianReqPerSec: number;
  /** The median of the rounds' headlines, when every round has one in the same unit. */
  headline?: { values: number[]; median: number; unit: string };
}

export function roundSummary(report: RunReport): RoundSummary[] {
  const baseline = report.results[0]?.name;
  const names = [...new Set(report.results.filter((r) => r.round !== undefined && r.name !== baseline).map((r) => r.name))];
  return names.flatMap((name) => {
    const rows = report.results.filter((r) => r.name === name && r.figures && !r.failure && r.ratioToBaseline !== null);
    if (!rows.length) return [];
    const ratios = rows.map((r) => r.ratioToBaseline!);
    const summary: RoundSummary = { name, ratios, median: Math.round(median(ratios) * 1000) / 1000, medianReqPerSec: Math.round(median(rows.map((r) => r.figures!.requestsPerSec))) };
    const headlines = rows.map((r) => r.figures!.headline);
    const units = new Set(headlines.map((h) => h && (h.per ?? h.unit)));
    const [unit] = units;
    if (units.size === 1 && unit) {
      const values = headlines.map((h) => h!.value);
      summary.headline = { values, median: median(values), unit };
    }
    return [summary];
  });
}

function roundLines(report: RunReport): string[] {
  const summary = roundSummary(report);
  if (!summary.length) return [];
  return [
    '',
    `Rounds (${report.options.rounds}, each the baseline then the scenarios; ratio to the round's baseline):`,
    '',
    ...summary.map(
      (s) =>
        `- ${s.name}: ${s.ratios.map(pct).join(', ')}; **median ${pct(s.median)}** (median ${fmt(s.medianReqPerSec)} req/s)` +
        (s.headline ? `; headline ${s.headline.values.map(fmt).join(', ')}: **median ${fmt(s.headline.median)} ${s.headline.unit}**` : ''),
    ),
  ];
}

/** A plain table for the terminal. */
export function textTable(report: RunReport): string {
  const rows = [['scenario', 'req/s', 'p50 ms', 'p99 ms', 'avg ms', 'errors', 'non-2xx', 'bad body', 'server ELU', 'vs bare', 'headline']];
  for (const r of report.results) {
    const f = r.figures;
    rows.push(
      f
        ? [label(r), fmt(f.requestsPerSec), String(f.latencyMs.p50), String(f.latencyMs.p99), String(f.latencyMs.avg), String(f.errors + f.timeouts), String(f.non2xx), String(f.mismatches), f.serverEventLoopUtilization.toFixed(2), pct(r.ratioToBaseline), headline(f)]
        : [r.name, 'FAILED', '', '', '', '', '', '', '', '', ''],
    );
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return [...rows.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')), ...roundLines(report)].join('\n');
}

/** The section to paste into docs/benchmarks.md. */
export function markdown(report: RunReport): string {
  const m = report.machine;
  const o = report.options;
  const lines = [
    `### ${report.date.slice(0, 10)} · commit ${report.commit}`,
    '',
    `- Command: \`${report.command}\` (${o.duration} s measured after ${o.warmup} s warm-up, ${o.connections} connections, per scenario${o.rounds > 1 ? `; ${o.rounds} rounds` : ''})`,
    `- Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}; 1-minute load average ${m.loadAverageAtStart} at start`,
    `- Database: ${report.database.kind} PostgreSQL ${report.database.serverVersion}${report.database.kind === 'embedded' && process.env.BENCH_PG_SETTINGS ? ` (BENCH_PG_SETTINGS=${process.env.BENCH_PG_SETTINGS})` : ''}`,
    `- Load generator: ${report.loadGenerator}`,
    '',
    '| Scenario | What | req/s | p50 ms | p99 ms | errors / non-2xx / bad body | server ELU | req/s vs bare | headline |',
    '|---|---|--:|--:|--:|:-:|--:|--:|--:|',
  ];
  for (const r of report.results) {
    const f = r.figures;
    lines.push(
      f
        ? `| ${label(r)} | ${r.description} | ${fmt(f.requestsPerSec)} | ${f.latencyMs.p50} | ${f.latencyMs.p99} | ${f.errors + f.timeouts} / ${f.non2xx} / ${f.mismatches} | ${f.serverEventLoopUtilization.toFixed(2)} | ${pct(r.ratioToBaseline)} | ${headline(f)} |`
        : `| ${r.name} | ${r.description} | FAILED: ${r.failure} | | | | | | |`,
    );
  }
  return [...lines, ...roundLines(report)].join('\n');
}

/** Writes bench/results/latest.json and a dated copy (the folder is git-ignored). */
export async function writeReport(report: RunReport): Promise<string> {
  const dir = path.resolve(__dirname, '../results');
  await fs.mkdir(dir, { recursive: true });
  const json = JSON.stringify(report, null, 2) + '\n';
  const latest = path.join(dir, 'latest.json');
  await fs.writeFile(latest, json);
  await fs.writeFile(path.join(dir, `${report.date.replace(/[:.]/g, '-')}.json`), json);
  return latest;
}
