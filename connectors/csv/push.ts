import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { ConnectorError, type JournalEntry, type PushBatch, type PushObject, type PushResult } from '../types';
import type { CsvOptions } from './options';

/** The objects this connector writes files of (true-up deals and support entitlements are for a CRM: not declared). */
type CsvPushObject = Exclude<PushObject, 'trueup-opportunity' | 'support-entitlement'>;

/** The columns of each pushed file, in order (canonical names; arrays joined with `;`). */
export const PUSH_COLUMNS: Record<CsvPushObject, readonly string[]> = {
  'account-fields': [
    'accountExternalId',
    'entitlementStatus',
    'nextRenewalDate',
    'arr',
    'currency',
    'utilizationPercent',
    'activeUsers',
    'lastUsageAt',
    'overuse',
    'estimatedLeakage',
    'healthScore',
    'churnRisk',
    // Appended (ERP import maps keep working): the churn model's probability, the forecast renewing ARR, the model-fit summary.
    'churnProbability',
    'forecastArr',
    'modelFit',
    // Appended: devices held back by lapsed maintenance and what renewing it is worth (ADR 0048).
    'updatesHeldBack',
    'maintenanceRenewal',
  ],
  'renewal-opportunity': ['renewalKey', 'accountExternalId', 'name', 'amount', 'currency', 'closeDate', 'entitlementIds'],
  entitlement: ['entitlementId', 'accountExternalId', 'sku', 'productName', 'model', 'status', 'startDate', 'endDate', 'quantity', 'used', 'remaining'],
  'usage-record': ['usageKey', 'accountExternalId', 'subscriptionLineExternalId', 'orderExternalId', 'sku', 'metric', 'periodStart', 'periodEnd', 'usageDate', 'quantity'],
  // One row per journal line (the entry's fields repeated); the ERP's import groups by entryKey.
  'journal-entry': ['entryKey', 'period', 'subsidiary', 'currency', 'tranDate', 'account', 'debit', 'credit', 'memo'],
};

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.join(';');
  return String(v);
}

/**
 * Writes one batch as one CSV file in `outboxDir` for the ERP's own import:
 * `<object>-<UTC timestamp>-<id>.csv`, written to a dot-file and renamed into place, so the
 * ERP never picks up half a file. Every item is ok once the file is in place; a resent item
 * appears again in a later file (the ERP's import upserts by the first column).
 */
export async function pushCsv(options: CsvOptions, batch: PushBatch, now = new Date()): Promise<PushResult[]> {
  if (!options.outboxDir) throw new ConnectorError('INVALID', 'NO_OUTBOX_DIR', 'The connection has no outboxDir option: set one to write the synced fields as CSV files');
  if (batch.items.length === 0) return [];
  if (!(batch.object in PUSH_COLUMNS)) throw new ConnectorError('INVALID', 'UNKNOWN_OBJECT', `The CSV connector does not write ${batch.object}`);
  const columns = PUSH_COLUMNS[batch.object as CsvPushObject];
  const records: Record<string, unknown>[] =
    batch.object === 'journal-entry'
      ? batch.items.flatMap((item) => {
          const { lines, ...entry } = item.payload as JournalEntry;
          return lines.map((l) => ({ ...entry, ...l, memo: l.memo ?? entry.memo }));
        })
      : batch.items.map((item) => item.payload as unknown as Record<string, unknown>);
  const rows = records.map((r) => columns.map((c) => cell(r[c])));
  const text = stringify([columns as string[], ...rows], { delimiter: options.delimiter });
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const name = `${batch.object}-${stamp}-${randomUUID().slice(0, 8)}.csv`;
  const tmp = join(options.outboxDir, `.${name}.tmp`);
  try {
    await mkdir(options.outboxDir, { recursive: true });
    await writeFile(tmp, text, { flag: 'wx' });
    await rename(tmp, join(options.outboxDir, name));
  } catch (err) {
    await rm(tmp, { force: true });
    throw new ConnectorError('UNAVAILABLE', (err as NodeJS.ErrnoException).code ?? 'IO_ERROR', `Could not write ${name} to ${options.outboxDir}: ${(err as Error).message}`);
  }
  return batch.items.map((item) => ({ key: item.key, ok: true, targetId: name }));
}
