import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { systemContext } from '../common/context';
import { AppError } from '../common/errors';
import type { CsvExport, RevenueExports } from '../revenue/exports';
import { withServices } from './cli-context';
import { load } from './lazy';

const KINDS = ['waterfall', 'journal'] as const;
type Kind = (typeof KINDS)[number];

interface ExportOptions {
  from: string;
  to: string;
  account?: string;
  out?: string;
}

/**
 * `ehub export revenue waterfall|journal`: the same CSV as GET /v1/exports/revenue-waterfall.csv
 * and /v1/exports/journal-entries.csv, to stdout or a file (with a progress bar on stderr).
 */
export function registerExportCommands(program: Command): void {
  const exp = program.command('export').description('Finance exports as CSV (see docs/finance.md).');
  exp
    .command('revenue')
    .description('Revenue exports: the waterfall (one row per obligation per month) or the journal entries.')
    .argument('<kind>', `one of ${KINDS.join(', ')}`)
    .requiredOption('--from <YYYY-MM>', 'first month')
    .requiredOption('--to <YYYY-MM>', 'last month (inclusive)')
    .option('--account <id>', 'only this account')
    .option('--out <file>', 'write to this file instead of stdout')
    .action(async (kind: string, opts: ExportOptions) => {
      if (!(KINDS as readonly string[]).includes(kind)) throw new Error(`Unknown export "${kind}"; use one of ${KINDS.join(', ')}`);
      await withServices(async (services, log, config) => {
        const exports = new (load.revenueExports().RevenueExports)(services.db, config);
        try {
          await writeRevenueExport(exports, kind as Kind, opts, systemContext(log, `cli:export revenue ${kind}`));
        } catch (err) {
          // Bad input reads like the API's message, without a stack.
          if (err instanceof AppError) throw new Error(`${err.message} (${err.subCode})`);
          throw err;
        }
      });
    });
}

/** Streams one export to `opts.out` (or stdout); a progress bar on stderr when writing a file. */
export async function writeRevenueExport(exports: RevenueExports, kind: Kind, opts: ExportOptions, ctx: ReturnType<typeof systemContext>): Promise<number> {
  const range = await exports.resolveRange(ctx, { from: opts.from, to: opts.to, accountId: opts.account });
  const exp: CsvExport = kind === 'waterfall' ? exports.waterfall(range) : exports.journal(range);
  if (!opts.out) {
    await pipeline(load.revenueExports().csvStream(exp), nonClosing(process.stdout));
    return exp.progress.rows;
  }
  const total = await exports.sourceRowCount(kind, range);
  const bar = new SingleBar(
    { format: `${kind} {bar} {percentage}% | {value}/{total} ${kind === 'waterfall' ? 'obligations' : 'events'} | {duration}s`, stream: process.stderr, hideCursor: true },
    Presets.shades_classic,
  );
  bar.start(total, 0);
  const timer = setInterval(() => bar.update(exp.progress.rows), 200);
  try {
    await pipeline(load.revenueExports().csvStream(exp), createWriteStream(opts.out));
    bar.update(exp.progress.rows);
  } finally {
    clearInterval(timer);
    bar.stop();
  }
  return exp.progress.rows;
}

/** stdout must stay open after the export (the process still logs and exits normally). */
function nonClosing(target: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk, _enc, cb) {
      if (target.write(chunk)) cb();
      else target.once('drain', () => cb());
    },
  });
}
