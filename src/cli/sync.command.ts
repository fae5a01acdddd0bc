import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { systemContext } from '../common/context';
import { AppError } from '../common/errors';
import type { SyncRun } from '../sync/sync.entities';
import type { SyncProgress } from '../sync/sync.service';
import { withServices } from './cli-context';
import { table } from './table';

interface SyncOptions {
  full?: boolean;
  pull: boolean;
  push: boolean;
  objects?: string;
}

/**
 * `ehub sync <connection> [--full]`: runs a sync by hand (the same as `runSync`): pulls with
 * a progress bar per object on stderr, then renewals and the push, and prints a summary of
 * every run. Exits 1 when a run failed.
 */
export function registerSyncCommand(program: Command): void {
  program
    .command('sync')
    .description('Runs a sync of a connection now: pull accounts, contacts and won deals; queue renewals; push the outbox (see docs/sync.md).')
    .argument('<connection>', 'the connection name, e.g. salesforce')
    .option('--full', 'pull everything from the beginning instead of from the stored cursors (changes nothing already up to date)')
    .option('--no-push', 'pull only')
    .option('--no-pull', 'renewals and the push only')
    .option('--objects <list>', 'only these pulls, comma-separated (accounts,contacts,orders,receivables)')
    .action(async (name: string, opts: SyncOptions) => {
      const runs = await withServices(async (services, log) => {
        const ctx = systemContext(log, `cli:sync ${name}`);
        try {
          // The connection from EHUB_SALESFORCE_OPTIONS exists for the CLI as for a running hub.
          await services.sync.ensureEnvConnection(log);
          const c = await services.sync.connectionByName(name);
          const bars = new MultiBar(
            { format: '{phase} {object} {bar} {value} records | {duration}s', stream: process.stderr, hideCursor: true, clearOnComplete: false, noTTYOutput: false },
            Presets.shades_classic,
          );
          const byKey = new Map<string, SingleBar>();
          const onProgress = (p: SyncProgress) => {
            const key = `${p.phase}:${p.object ?? ''}`;
            let bar = byKey.get(key);
            // Totals are unknown while paging: the bar grows with its count.
            const value = p.phase === 'pull' ? (p.read ?? 0) : (p.delivered ?? 0) + (p.failed ?? 0) + (p.unchanged ?? 0);
            if (!bar) {
              bar = bars.create(Math.max(1, value), value, { phase: p.phase.padEnd(8), object: (p.object ?? (p.phase === 'push' ? 'outbox' : '')).padEnd(9) });
              byKey.set(key, bar);
            }
            bar.setTotal(Math.max(1, value));
            bar.update(value);
          };
          try {
            return await services.sync.runSync(ctx, c.id, {
              full: opts.full ?? false,
              pull: opts.pull,
              push: opts.push,
              objects: opts.objects?.split(',').map((o) => o.trim()).filter(Boolean),
              onProgress,
            });
          } finally {
            bars.stop();
          }
        } catch (err) {
          if (err instanceof AppError) throw new Error(`${err.message} (${err.subCode})`);
          throw err;
        }
      });
      process.stdout.write(formatRuns(runs));
      if (runs.some((r) => r.status === 'FAILED')) process.exitCode = 1;
    });
}

/** A plain-text table of runs, then their per-record errors. */
export function formatRuns(runs: SyncRun[]): string {
  const head = ['kind', 'object', 'status', 'read', 'created', 'updated', 'unchanged', 'deleted', 'failed', 'api calls', 'ms'];
  const rows = runs.map((r) => [r.kind, r.object, r.status, r.read, r.created, r.updated, r.unchanged, r.deleted, r.failed, r.apiCalls, r.durationMs ?? ''].map(String));
  const out = table(head, rows);
  for (const r of runs) {
    if (r.error) out.push(`${r.kind} ${r.object} failed: ${r.error}`);
    for (const e of r.errors) out.push(`  ${r.object} ${e.record ?? ''} ${e.code}: ${e.message}`);
  }
  return out.join('\n') + '\n';
}
