/**
 * Writes: account fields (PATCH customer), usage for billing (PUT usage/eid:<usageKey>) and
 * revenue journal entries (PUT journalEntry/eid:<entryKey> with the line sublist). Upserts by
 * external id are safe to resend. Each item gets its own result; NetSuite's error details
 * (`o:errorCode`, detail, path) become the failed item's code and message.
 */
import {
  ConnectorError,
  type AccountFields,
  type ConnectorCallContext,
  type JournalEntry,
  type PushBatch,
  type PushItem,
  type PushObject,
  type PushResult,
  type UsageRecord,
} from '../types';
import { JsonDecimal, type NetSuiteClient, type WriteOutcome } from './client';
import { ACCOUNT_FIELD_KEYS, type NetSuiteOptions } from './options';
import { parseDecimal, sqlString } from './values';

function result(key: string, o: WriteOutcome): PushResult {
  if (o.ok) return { key, ok: true, targetId: o.id };
  return { key, ok: false, errorCode: o.code, errorMessage: `${o.detail}${o.path ? ` (${o.path})` : ''}`, retryable: o.retryable };
}

function failed(key: string, code: string, message: string, retryable = false): PushResult {
  return { key, ok: false, errorCode: code, errorMessage: message, retryable };
}

/** Runs one write per item (the client caps concurrency); a whole-call failure of one item becomes its retryable result, AUTH fails the call. */
async function each<P>(items: PushItem[], fn: (key: string, p: P) => Promise<PushResult>): Promise<PushResult[]> {
  const results = await Promise.all(
    items.map(async (i) => {
      try {
        return await fn(i.key, i.payload as P);
      } catch (err) {
        if (err instanceof ConnectorError && err.kind !== 'AUTH' && err.kind !== 'INVALID') return failed(i.key, err.code, err.message, true);
        throw err;
      }
    }),
  );
  return results;
}

const decimal = (v: string): JsonDecimal => new JsonDecimal(parseDecimal(v) ?? v);

function accountBody(opts: NetSuiteOptions, p: AccountFields, now: string): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const k of ACCOUNT_FIELD_KEYS) {
    const field = opts.accountFields[k];
    if (!field) continue;
    if (k === 'syncedAt') {
      body[field] = now;
      continue;
    }
    const v = p[k as keyof AccountFields];
    if (v === undefined) continue;
    if (v === null) body[field] = null;
    else if ((k === 'arr' || k === 'estimatedLeakage' || k === 'forecastArr' || k === 'maintenanceRenewal') && typeof v === 'string') body[field] = decimal(v);
    else body[field] = v;
  }
  return body;
}

/** internal ids by a key column of a small table (items by itemid/externalid, accounts by acctnumber, currencies by symbol). */
async function idsBy(client: NetSuiteClient, table: string, column: string, values: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const unique = [...new Set(values)];
  for (let i = 0; i < unique.length; i += 500) {
    const chunk = unique.slice(i, i + 500);
    const q = `SELECT id, ${column} AS k FROM ${table} WHERE ${column} IN (${chunk.map(sqlString).join(', ')}) ORDER BY id`;
    for await (const rows of client.suiteqlAll(q)) for (const r of rows) if (!out.has(r.k)) out.set(r.k, r.id);
  }
  return out;
}

export async function pushBatch(client: NetSuiteClient, ctx: ConnectorCallContext, opts: NetSuiteOptions, batch: PushBatch<PushObject>, now: () => Date): Promise<PushResult[]> {
  switch (batch.object) {
    case 'account-fields': {
      const stamp = now().toISOString();
      return each<AccountFields & { accountExternalId: string }>(batch.items, async (key, p) => {
        if (!/^\d+$/.test(p.accountExternalId)) return failed(key, 'INVALID_ID', `${p.accountExternalId} is not a NetSuite customer id`);
        const body = accountBody(opts, p, stamp);
        return result(key, await client.updateRecord('customer', p.accountExternalId, body));
      });
    }
    case 'usage-record': {
      const payloads = batch.items.map((i) => i.payload as UsageRecord);
      const items = await idsBy(client, 'item', opts.skuSource, payloads.map((p) => p.sku));
      return each<UsageRecord>(batch.items, async (key, p) => {
        const item = items.get(p.sku);
        if (!item) return failed(key, 'UNKNOWN_ITEM', `No NetSuite item has ${opts.skuSource} ${p.sku}`);
        if (!/^\d+$/.test(p.accountExternalId)) return failed(key, 'INVALID_ID', `${p.accountExternalId} is not a NetSuite customer id`);
        const q = parseDecimal(p.quantity);
        if (q === null || q.startsWith('-')) return failed(key, 'INVALID_QUANTITY', `quantity ${p.quantity} is not a decimal ≥ 0`);
        const body: Record<string, unknown> = {
          customer: { id: p.accountExternalId },
          item: { id: item },
          usageDate: p.usageDate,
          usageQuantity: new JsonDecimal(q),
          memo: `${p.metric} ${p.periodStart}..${p.periodEnd}`,
        };
        if (p.subscriptionLineExternalId && /^\d+$/.test(p.subscriptionLineExternalId)) body.subscriptionLine = { id: p.subscriptionLineExternalId };
        if (opts.usage.metricField) body[opts.usage.metricField] = p.metric;
        return result(key, await client.upsertByExternalId(opts.usage.recordType, p.usageKey, body));
      });
    }
    case 'journal-entry': {
      const payloads = batch.items.map((i) => i.payload as JournalEntry);
      const accounts = await idsBy(client, 'account', 'acctnumber', payloads.flatMap((p) => p.lines.map((l) => l.account)));
      const currencies = await idsBy(client, 'currency', 'symbol', payloads.map((p) => p.currency));
      return each<JournalEntry>(batch.items, async (key, p) => {
        const missing = p.lines.find((l) => !accounts.has(l.account));
        if (missing) return failed(key, 'UNKNOWN_GL_ACCOUNT', `No NetSuite account has number ${missing.account}`);
        const currency = currencies.get(p.currency);
        if (!currency) return failed(key, 'UNKNOWN_CURRENCY', `No NetSuite currency ${p.currency}`);
        const lines = [];
        for (const l of p.lines) {
          const debit = parseDecimal(l.debit);
          const credit = parseDecimal(l.credit);
          if (debit === null || credit === null) return failed(key, 'INVALID_AMOUNT', `line ${l.account}: debit ${l.debit}, credit ${l.credit}`);
          const line: Record<string, unknown> = { account: { id: accounts.get(l.account) } };
          if (debit !== '0') line.debit = new JsonDecimal(debit);
          if (credit !== '0') line.credit = new JsonDecimal(credit);
          if (l.memo) line.memo = l.memo;
          if (l.accountExternalId && /^\d+$/.test(l.accountExternalId)) line.entity = { id: l.accountExternalId };
          lines.push(line);
        }
        const body: Record<string, unknown> = { tranDate: p.tranDate, memo: p.memo, currency: { id: currency }, line: { items: lines } };
        if (p.subsidiary) body.subsidiary = { id: p.subsidiary };
        return result(key, await client.upsertByExternalId('journalEntry', p.entryKey, body));
      });
    }
    default:
      throw new ConnectorError('INVALID', 'UNSUPPORTED_OBJECT', `The NetSuite connector does not push ${batch.object}`);
  }
}
