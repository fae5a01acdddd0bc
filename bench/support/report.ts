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
  /** Requests per second divided by the baseline's, in this run. */
  ratioToBaseline: number | null;
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

export function addResult(report: RunReport, name: string, description: string, figures: Figures | null, error?: unknown): ScenarioResult {
  // The baseline runs first: its own ratio is 1.
  const baseline = report.results.length === 0 ? figures : report.results[0]!.figures;
  const result: ScenarioResult = {
    name,
    description,
    figures,
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

/** A plain table for the terminal. */
export function textTable(report: RunReport): string {
  const rows = [['scenario', 'req/s', 'p50 ms', 'p99 ms', 'avg ms', 'errors', 'non-2xx', 'bad body', 'server ELU', 'vs bare', 'headline']];
  for (const r of report.results) {
    const f = r.figures;
    rows.push(
      f
        ? [r.failure ? `${r.name} (FAILED)` : r.name, fmt(f.requestsPerSec), String(f.latencyMs.p50), String(f.latencyMs.p99), String(f.latencyMs.avg), String(f.errors + f.timeouts), String(f.non2xx), String(f.mismatches), f.serverEventLoopUtilization.toFixed(2), pct(r.ratioToBaseline), headline(f)]
        : [r.name, 'FAILED', '', '', '', '', '', '', '', '', ''],
    );
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

/** The section to paste into docs/benchmarks.md. */
export function markdown(report: RunReport): string {
  const m = report.machine;
  const o = report.options;
  const lines = [
    `### ${report.date.slice(0, 10)} · commit ${report.commit}`,
    '',
    `- Command: \`${report.command}\` (${o.duration} s measured after ${o.warmup} s warm-up, ${o.connections} connections, per scenario)`,
    `- Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}; 1-minute load average ${m.loadAverageAtStart} at start`,
    `- Database: ${report.database.kind} PostgreSQL ${report.database.serverVersion}`,
    `- Load generator: ${report.loadGenerator}`,
    '',
    '| Scenario | What | req/s | p50 ms | p99 ms | errors / non-2xx / bad body | server ELU | req/s vs bare | headline |',
    '|---|---|--:|--:|--:|:-:|--:|--:|--:|',
  ];
  for (const r of report.results) {
    const f = r.figures;
    lines.push(
      f
        ? `| ${r.failure ? `${r.name} (FAILED)` : r.name} | ${r.description} | ${fmt(f.requestsPerSec)} | ${f.latencyMs.p50} | ${f.latencyMs.p99} | ${f.errors + f.timeouts} / ${f.non2xx} / ${f.mismatches} | ${f.serverEventLoopUtilization.toFixed(2)} | ${pct(r.ratioToBaseline)} | ${headline(f)} |`
        : `| ${r.name} | ${r.description} | FAILED: ${r.failure} | | | | | | |`,
    );
  }
  return lines.join('\n');
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
