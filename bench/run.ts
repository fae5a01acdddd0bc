import './support/production-env';
import 'reflect-metadata';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BASELINE, scenarios } from './scenarios';
import { startEnvironment, type BenchEnvironment } from './support/environment';
import { runLoad } from './support/load';
import { addResult, markdown, newReport, textTable, writeReport } from './support/report';
import type { BenchContext, BenchOptions } from './support/types';

const USAGE = `Usage: npm run bench -- [--duration <s>] [--warmup <s>] [--connections <n>] [--only <name,...>] [--rounds <n>] [--list]

Measures each scenario with autocannon against a hub started in this process, and a bare
Fastify route as the baseline (always run first, so ratios compare figures of the same run).
  --duration <s>      seconds measured per scenario (BENCH_DURATION, default 10)
  --warmup <s>        unmeasured seconds before each (BENCH_WARMUP, default 2)
  --connections <n>   concurrent connections (BENCH_CONNECTIONS, default 32)
  --only <names>      run only these scenarios (comma-separated; repeatable)
  --rounds <n>        run the baseline and the scenarios n times in turn (BENCH_ROUNDS,
                      default 1); each ratio is to its round's baseline, and the report
                      gives the median per scenario (steadier on a shared, noisy machine)
  --list              list the scenarios and exit
BENCH_DATABASE_URL: use this PostgreSQL server (a database is created and dropped) instead of
an embedded one in a temporary directory.`;

class UsageError extends Error {}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (name !== 'warmup' && n === 0)) throw new UsageError(`--${name} must be a positive number, got "${value}"`);
  return n;
}

const ARGS = {
  duration: { type: 'string' },
  warmup: { type: 'string' },
  connections: { type: 'string' },
  only: { type: 'string', multiple: true },
  rounds: { type: 'string' },
  list: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function parseOptions(argv: string[]): (BenchOptions & { list: boolean }) | null {
  const values = (() => {
    try {
      return parseArgs({ args: argv, options: ARGS, strict: true }).values;
    } catch (err) {
      throw new UsageError(`${(err as Error).message}\n\n${USAGE}`);
    }
  })();
  if (values.help) return null;
  const only = (values.only ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((n) => !scenarios.some((s) => s.name === n));
  if (unknown.length) throw new UsageError(`Unknown scenario(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`);
  return {
    duration: positive('duration', values.duration ?? process.env.BENCH_DURATION, 10),
    warmup: positive('warmup', values.warmup ?? process.env.BENCH_WARMUP, 2),
    connections: Math.round(positive('connections', values.connections ?? process.env.BENCH_CONNECTIONS, 32)),
    only,
    rounds: Math.round(positive('rounds', values.rounds ?? process.env.BENCH_ROUNDS, 1)),
    list: values.list,
  };
}

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2));
  if (!parsed) {
    console.log(USAGE);
    return 0;
  }
  if (parsed.list) {
    for (const s of scenarios) console.log(`${s.name.padEnd(16)} ${s.description}`);
    return 0;
  }
  const { list: _list, ...options } = parsed;
  const selected = scenarios.filter((s) => s === BASELINE || options.only.length === 0 || options.only.includes(s.name));

  const loadAverage = os.loadavg()[0]!;
  console.error('Starting PostgreSQL, the hub and the baseline server…');
  const starting: Promise<BenchEnvironment> = startEnvironment();
  // Stop PostgreSQL on Ctrl-C too: a temporary server left running would outlive its directory.
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`${signal}: stopping`);
    void starting.then((e) => e.close(), () => undefined).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const env = await starting;
  const report = newReport(options, env.database, loadAverage);
  const ctx: BenchContext = { hub: env.hub, bare: env.bare, options, load: (spec) => runLoad(spec, options) };
  try {
    rounds: for (let round = 1; round <= options.rounds; round++) {
      const tag = options.rounds > 1 ? round : undefined;
      for (const s of selected) {
        console.error(`▸ ${s.name}${tag ? ` (round ${round} of ${options.rounds})` : ''}: ${s.description} (${options.warmup} s warm-up + ${options.duration} s, ${options.connections} connections)`);
        try {
          addResult(report, s.name, s.description, await s.run(ctx), undefined, tag);
        } catch (err) {
          addResult(report, s.name, s.description, null, err, tag);
        }
        const r = report.results.at(-1)!;
        if (r.failure) console.error(`  ✗ ${r.failure}`);
        if (s === BASELINE && !r.figures) break rounds; // nothing to compare against
      }
    }
  } finally {
    await env.close();
  }

  const file = await writeReport(report);
  console.log(`\n${textTable(report)}\n`);
  console.log('Markdown for docs/benchmarks.md:\n');
  console.log(markdown(report));
  console.log(`\nResults written to ${path.relative(process.cwd(), file)}`);
  const failed = report.results.filter((r) => r.failure);
  if (failed.length) {
    console.error(`\nBENCHMARK FAILED: ${failed.map((r) => `${r.name}: ${r.failure}`).join('; ')}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof UsageError ? err.message : err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
