for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) delete process.env[k];

import type { Connector, EntitlementSummary, PushItem, PushResult } from '../types';
import { startSalesforceEmulator, type SalesforceEmulator } from './emulator';
import { connectorError, connectTo, quietCtx } from './spec-helpers';

const byKey = (results: PushResult[]): Map<string, PushResult> => new Map(results.map((r) => [r.key, r]));

function entitlement(i: number, accountId: string, over: Partial<EntitlementSummary> = {}): PushItem<'entitlement'> {
  return {
    key: `ent-${i}`,
    payload: {
      entitlementId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      accountExternalId: accountId,
      sku: `SKU-${i}`,
      productName: `Product ${i}`,
      model: 'SUBSCRIPTION',
      status: 'ACTIVE',
      startDate: '2024-01-01',
      endDate: '2024-12-31',
      quantity: '100',
      used: '12.5',
      remaining: '87.5',
      ...over,
    },
  };
}

describe('salesforce connector: pushes', () => {
  let emu: SalesforceEmulator;
  let c: Connector;

  beforeEach(async () => {
    emu = await startSalesforceEmulator();
    c = connectTo(emu, { rateLimitBackoffMs: 42_000 });
  });
  afterEach(async () => {
    await c.close();
    await emu.close();
  });

  it('updates account fields through sObject Collections, one result per item', async () => {
    const a = emu.insert('Account', { Name: 'Acme' });
    const b = emu.insert('Account', { Name: 'Beta', Ehub_Health_Score__c: 10 });
    const gone = emu.insert('Account', { Name: 'Gone' });
    emu.delete('Account', gone);
    const results = await c.push(quietCtx, {
      object: 'account-fields',
      items: [
        {
          key: 'k-a',
          payload: {
            accountExternalId: a,
            entitlementStatus: 'ACTIVE',
            nextRenewalDate: '2025-01-31',
            arr: '12345.67',
            utilizationPercent: 87.5,
            activeUsers: 12,
            lastUsageAt: '2024-02-29T12:00:00.000Z',
            overuse: true,
            estimatedLeakage: '0',
            healthScore: 77,
            churnRisk: 'LOW',
          },
        },
        { key: 'k-b', payload: { accountExternalId: b, healthScore: null, arr: '5' } },
        { key: 'k-gone', payload: { accountExternalId: gone, arr: '1' } },
        { key: 'k-bad', payload: { accountExternalId: 'xyz', arr: '1' } },
      ],
    });
    expect(results).toHaveLength(4);
    const r = byKey(results);
    expect(r.get('k-a')).toMatchObject({ ok: true, targetId: a });
    expect(r.get('k-b')).toMatchObject({ ok: true, targetId: b });
    expect(r.get('k-gone')).toMatchObject({ ok: false, errorCode: 'ENTITY_IS_DELETED', retryable: false });
    expect(r.get('k-bad')).toMatchObject({ ok: false, errorCode: 'MALFORMED_ID', retryable: false });

    const acc = emu.get('Account', a);
    expect(acc).toMatchObject({
      Ehub_Entitlement_Status__c: 'ACTIVE',
      Ehub_Next_Renewal_Date__c: '2025-01-31',
      Ehub_ARR__c: 12345.67,
      Ehub_Utilization__c: 87.5,
      Ehub_Active_Users__c: 12,
      Ehub_Overuse__c: true,
      Ehub_Health_Score__c: 77,
      Ehub_Churn_Risk__c: 'LOW',
    });
    expect(Date.parse(String(acc?.Ehub_Last_Usage__c))).toBe(Date.parse('2024-02-29T12:00:00.000Z'));
    expect(acc?.Ehub_Synced_At__c).toEqual(expect.any(String));
    // null clears, absent leaves alone
    expect(emu.get('Account', b)).toMatchObject({ Ehub_Health_Score__c: null, Ehub_ARR__c: 5 });
    expect(emu.get('Account', b)?.Ehub_Churn_Risk__c ?? null).toBeNull();
    expect(c.stats().apiCalls).toBe(emu.stats.apiCalls);
  });

  it('sends at most 200 records per collections call', async () => {
    const ids = Array.from({ length: 450 }, (_, i) => emu.insert('Account', { Name: `A${i}` }));
    emu.resetStats();
    const before = c.stats().apiCalls;
    const results = await c.push(quietCtx, {
      object: 'account-fields',
      items: ids.map((id, i) => ({ key: `k${i}`, payload: { accountExternalId: id, activeUsers: i } })),
    });
    expect(results.filter((x) => x.ok)).toHaveLength(450);
    expect(emu.get('Account', ids[449])?.Ehub_Active_Users__c).toBe(449);
    expect(emu.stats.byEndpoint['PATCH composite/sobjects']).toBe(3);
    expect(c.stats().apiCalls - before).toBe(emu.stats.apiCalls);
  });

  it('keeps per-record failures per item: permanent ones are not retryable, lock errors are', async () => {
    const ok = emu.insert('Account', { Name: 'Fine' });
    const bad = emu.insert('Account', { Name: 'Rejected' });
    emu.faults.rejectRecord((sobject, fields) =>
      sobject === 'Account' && fields.Name === 'Rejected' ? { errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'ARR too high', fields: ['Ehub_ARR__c'] } : null,
    );
    const r1 = byKey(
      await c.push(quietCtx, {
        object: 'account-fields',
        items: [
          { key: 'ok', payload: { accountExternalId: ok, arr: '1' } },
          { key: 'bad', payload: { accountExternalId: bad, arr: '1' } },
        ],
      }),
    );
    expect(r1.get('ok')).toMatchObject({ ok: true });
    expect(r1.get('bad')).toMatchObject({ ok: false, errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', retryable: false });
    expect(r1.get('bad')?.errorMessage).toContain('ARR too high');

    emu.faults.clear();
    emu.faults.set({ recordErrorRate: 1, recordErrorCodes: ['UNABLE_TO_LOCK_ROW'] });
    const [locked] = await c.push(quietCtx, { object: 'account-fields', items: [{ key: 'ok', payload: { accountExternalId: ok, arr: '2' } }] });
    expect(locked).toMatchObject({ ok: false, errorCode: 'UNABLE_TO_LOCK_ROW', retryable: true });
  });

  it('upserts renewal opportunities by their key without resetting a stage sales has moved', async () => {
    const acc = emu.insert('Account', { Name: 'Acme' });
    const c2 = connectTo(emu, { renewal: { type: 'Renewal' } });
    const item = (amount: string): PushItem<'renewal-opportunity'> => ({
      key: 'r1',
      payload: {
        renewalKey: 'ehub-renewal:o1:2025-01-31',
        accountExternalId: acc,
        name: 'Acme renewal 2025',
        amount,
        currency: 'USD',
        closeDate: '2025-01-31',
        entitlementIds: ['e1'],
      },
    });
    const [first] = await c2.push(quietCtx, { object: 'renewal-opportunity', items: [item('1200.50')] });
    expect(first).toMatchObject({ ok: true, targetId: expect.stringMatching(/^006/) });
    expect(emu.get('Opportunity', String(first.targetId))).toMatchObject({
      AccountId: acc,
      Name: 'Acme renewal 2025',
      Amount: 1200.5,
      CloseDate: '2025-01-31',
      StageName: 'Prospecting',
      Type: 'Renewal',
      Ehub_Renewal_Key__c: 'ehub-renewal:o1:2025-01-31',
    });
    emu.update('Opportunity', String(first.targetId), { StageName: 'Negotiation/Review' });
    const [second] = await c2.push(quietCtx, { object: 'renewal-opportunity', items: [item('1300')] });
    expect(second).toMatchObject({ ok: true, targetId: first.targetId });
    expect(emu.get('Opportunity', String(first.targetId))).toMatchObject({ Amount: 1300, StageName: 'Negotiation/Review' });
    expect(emu.records('Opportunity').filter((o) => o.Ehub_Renewal_Key__c === 'ehub-renewal:o1:2025-01-31')).toHaveLength(1);

    // a single-currency org cannot take an amount in another currency
    const [eur] = await c2.push(quietCtx, { object: 'renewal-opportunity', items: [{ ...item('5'), payload: { ...item('5').payload, currency: 'EUR' } }] });
    expect(eur).toMatchObject({ ok: false, errorCode: 'CURRENCY_MISMATCH', retryable: false });
  });

  it('upserts entitlements by their id, name cut to 80 characters', async () => {
    const acc = emu.insert('Account', { Name: 'Acme' });
    const long = 'P'.repeat(100);
    const results = await c.push(quietCtx, {
      object: 'entitlement',
      items: [entitlement(1, acc, { productName: long, endDate: null }), entitlement(2, acc)],
    });
    expect(results.every((r) => r.ok)).toBe(true);
    const rec = emu.records('Ehub_Entitlement__c').find((e) => e.Ehub_Entitlement_Id__c === '00000000-0000-4000-8000-000000000001');
    expect(rec).toMatchObject({
      Name: 'P'.repeat(80),
      Account__c: acc,
      Sku__c: 'SKU-1',
      Model__c: 'SUBSCRIPTION',
      Status__c: 'ACTIVE',
      Start_Date__c: '2024-01-01',
      End_Date__c: null,
      Quantity__c: 100,
      Used__c: 12.5,
      Remaining__c: 87.5,
    });
    // resending is idempotent
    await c.push(quietCtx, { object: 'entitlement', items: [entitlement(2, acc, { used: '13' })] });
    expect(emu.records('Ehub_Entitlement__c')).toHaveLength(2);
  });

  it('goes through a Bulk API 2.0 job above the threshold and maps results back per item', async () => {
    const acc = emu.insert('Account', { Name: 'Acme' });
    const bulk = connectTo(emu, { bulkThreshold: 5 });
    emu.faults.rejectRecord((sobject, fields) =>
      sobject === 'Ehub_Entitlement__c' && fields.Sku__c === 'SKU-7' ? { errorCode: 'STRING_TOO_LONG', message: 'Sku: data value too large' } : null,
    );
    emu.resetStats();
    const before = bulk.stats().apiCalls;
    const items = Array.from({ length: 12 }, (_, i) => entitlement(i, acc, i === 3 ? { endDate: null } : {}));
    const results = await bulk.push(quietCtx, { object: 'entitlement', items });
    expect(results).toHaveLength(12);
    const r = byKey(results);
    expect(r.get('ent-7')).toMatchObject({ ok: false, errorCode: 'STRING_TOO_LONG', retryable: false });
    expect(results.filter((x) => x.ok)).toHaveLength(11);
    expect(r.get('ent-0')?.targetId).toMatch(/^a00/);
    expect(emu.records('Ehub_Entitlement__c')).toHaveLength(11);
    expect(emu.records('Ehub_Entitlement__c').find((e) => e.Sku__c === 'SKU-3')?.End_Date__c).toBeNull();
    expect(emu.stats.byEndpoint['PUT jobs/ingest/batches']).toBe(1);
    expect(emu.stats.byEndpoint['PATCH composite/sobjects'] ?? 0).toBe(0);
    expect(bulk.stats().apiCalls - before).toBe(emu.stats.apiCalls);

    // account fields by Id through bulk too
    const ids = Array.from({ length: 6 }, (_, i) => emu.insert('Account', { Name: `B${i}` }));
    const acc2 = await bulk.push(quietCtx, {
      object: 'account-fields',
      items: ids.map((id, i) => ({ key: `a${i}`, payload: { accountExternalId: id, arr: `${i}.25`, churnRisk: null } })),
    });
    expect(acc2.filter((x) => x.ok).map((x) => x.targetId).sort()).toEqual([...ids].sort());
    expect(emu.get('Account', ids[5])?.Ehub_ARR__c).toBe(5.25);
  });

  it('a bulk job that fails part way answers what it processed; only the unprocessed records come back NOT_PROCESSED', async () => {
    const acc = emu.insert('Account', { Name: 'Acme' });
    const bulk = connectTo(emu, { bulkThreshold: 1, bulkPollIntervalMs: 5 });
    emu.faults.set({ failBulkJobs: 1, failBulkJobsAfterRows: 2 });
    const items = [entitlement(1, acc), entitlement(2, acc), entitlement(3, acc), entitlement(4, acc)];
    const results = byKey(await bulk.push(quietCtx, { object: 'entitlement', items }));
    expect([...results.values()].filter((r) => r.ok)).toHaveLength(2);
    const rest = [...results.values()].filter((r) => !r.ok);
    expect(rest).toHaveLength(2);
    for (const r of rest) expect(r).toMatchObject({ ok: false, errorCode: 'NOT_PROCESSED', retryable: true });
    expect(emu.records('Ehub_Entitlement__c')).toHaveLength(2);
    // only the unprocessed ones are sent again
    const again = await bulk.push(quietCtx, { object: 'entitlement', items: items.filter((i) => !results.get(i.key)!.ok) });
    expect(again.every((r) => r.ok)).toBe(true);
    expect(emu.records('Ehub_Entitlement__c')).toHaveLength(4);
    await bulk.close();
  });

  it('reports a bulk job before closing it; after a failed poll or result read, resumePush reads the same job and uploads nothing', async () => {
    const acc = emu.insert('Account', { Name: 'Acme' });
    const bulk = connectTo(emu, { bulkThreshold: 1, bulkPollIntervalMs: 5 });
    emu.faults.rejectRecord((sobject, f) => (sobject === 'Ehub_Entitlement__c' && f.Sku__c === 'SKU-3' ? { errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'no' } : null));
    const items = [entitlement(1, acc), entitlement(2, acc), entitlement(3, acc)];
    const reported: { handle: string; keys: string[]; closed: number }[] = [];
    const ctx = {
      ...quietCtx,
      onSubmitted: async (handle: string, keys: string[]) => {
        reported.push({ handle, keys, closed: emu.stats.byEndpoint['PATCH jobs/ingest/{id}'] ?? 0 });
      },
    };
    emu.faults.queueOn('GET jobs/ingest/{id}', 'HTTP_503');
    expect(await connectorError(bulk.push(ctx, { object: 'entitlement', items }))).toMatchObject({ kind: 'UNAVAILABLE', code: 'HTTP_503' });
    expect(reported).toHaveLength(1);
    expect(reported[0].keys.sort()).toEqual(['ent-1', 'ent-2', 'ent-3']);
    expect(reported[0].closed).toBe(0); // reported before the close
    // each kind of read fails once more, then the outcome comes through
    emu.faults.queueOn('GET jobs/ingest/successfulResults', 'REQUEST_LIMIT_EXCEEDED');
    expect(await connectorError(bulk.resumePush!(quietCtx, { object: 'entitlement', items }, reported[0].handle))).toMatchObject({ kind: 'RATE_LIMITED' });
    emu.faults.queueOn('GET jobs/ingest/failedResults', 'HTTP_503');
    expect(await connectorError(bulk.resumePush!(quietCtx, { object: 'entitlement', items }, reported[0].handle))).toMatchObject({ kind: 'UNAVAILABLE' });
    const results = byKey(await bulk.resumePush!(quietCtx, { object: 'entitlement', items }, reported[0].handle));
    expect(results.get('ent-1')).toMatchObject({ ok: true });
    expect(results.get('ent-2')).toMatchObject({ ok: true });
    expect(results.get('ent-3')).toMatchObject({ ok: false, errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', retryable: false });
    expect(emu.stats.byEndpoint['POST jobs/ingest']).toBe(1);
    expect(emu.stats.byEndpoint['PUT jobs/ingest/batches']).toBe(1);
    expect(emu.records('Ehub_Entitlement__c')).toHaveLength(2);
    await bulk.close();
  });

  it('a job reported but never closed (the close failed) is aborted by resumePush and nothing of it is applied', async () => {
    const acc = emu.insert('Account', { Name: 'Acme' });
    const bulk = connectTo(emu, { bulkThreshold: 1, bulkPollIntervalMs: 5 });
    const items = [entitlement(1, acc), entitlement(2, acc)];
    let handle = '';
    const ctx = { ...quietCtx, onSubmitted: async (h: string) => void (handle = h) };
    emu.faults.queueOn('PATCH jobs/ingest/{id}', 'HTTP_503');
    await connectorError(bulk.push(ctx, { object: 'entitlement', items }));
    const results = await bulk.resumePush!(quietCtx, { object: 'entitlement', items }, handle);
    expect(results.map((r) => r.errorCode)).toEqual(['NOT_PROCESSED', 'NOT_PROCESSED']);
    expect(results.every((r) => r.retryable)).toBe(true);
    expect(emu.records('Ehub_Entitlement__c')).toHaveLength(0);
    expect(await connectorError(bulk.resumePush!(quietCtx, { object: 'entitlement', items }, 'not a handle'))).toMatchObject({ code: 'INVALID_HANDLE' });
    await bulk.close();
  });

  it('sObject Collections: a call whose answer is lost after Salesforce applied it is simply sent again (upsert by external id, update by Id)', async () => {
    const acc = emu.insert('Account', { Name: 'Acme' });
    const items = [entitlement(1, acc), entitlement(2, acc, { used: '40', remaining: '60' })];
    emu.faults.queue('APPLY_THEN_503');
    expect(await connectorError(c.push(quietCtx, { object: 'entitlement', items }))).toMatchObject({ kind: 'UNAVAILABLE', code: 'HTTP_503' });
    expect(emu.records('Ehub_Entitlement__c')).toHaveLength(2); // it did reach Salesforce
    const results = await c.push(quietCtx, { object: 'entitlement', items });
    expect(results.every((r) => r.ok)).toBe(true);
    expect(emu.records('Ehub_Entitlement__c')).toHaveLength(2); // no second copy
    emu.faults.queue('APPLY_THEN_503');
    await connectorError(c.push(quietCtx, { object: 'account-fields', items: [{ key: 'a', payload: { accountExternalId: acc, activeUsers: 7 } }] }));
    expect(await c.push(quietCtx, { object: 'account-fields', items: [{ key: 'a', payload: { accountExternalId: acc, activeUsers: 7 } }] })).toEqual([{ key: 'a', ok: true, targetId: acc }]);
    expect(emu.records('Account')).toHaveLength(1);
    expect(emu.get('Account', acc)?.Ehub_Active_Users__c).toBe(7);
  });

  it('maps whole-call failures: 503 and 500 UNAVAILABLE, limit exceeded RATE_LIMITED, without hidden retries', async () => {
    const acc = emu.insert('Account', { Name: 'Acme' });
    const items = [{ key: 'k', payload: { accountExternalId: acc, activeUsers: 1 } }];
    await c.healthCheck(quietCtx);
    emu.faults.queue('HTTP_503');
    expect(await connectorError(c.push(quietCtx, { object: 'account-fields', items }))).toMatchObject({ kind: 'UNAVAILABLE', code: 'HTTP_503' });
    emu.faults.queue('HTTP_500');
    expect(await connectorError(c.push(quietCtx, { object: 'account-fields', items }))).toMatchObject({ kind: 'UNAVAILABLE', code: 'HTTP_500' });
    emu.faults.queue('REQUEST_LIMIT_EXCEEDED');
    expect(await connectorError(c.push(quietCtx, { object: 'account-fields', items }))).toMatchObject({
      kind: 'RATE_LIMITED',
      code: 'REQUEST_LIMIT_EXCEEDED',
      retryAfterMs: 42_000,
    });
    emu.faults.queue('HTTP_503');
    expect(await connectorError(c.pull(quietCtx, { object: 'accounts', cursor: null })[Symbol.asyncIterator]().next())).toMatchObject({
      kind: 'UNAVAILABLE',
    });
    expect(await c.push(quietCtx, { object: 'account-fields', items })).toEqual([{ key: 'k', ok: true, targetId: acc }]);
    expect(c.stats().apiCalls).toBe(emu.stats.apiCalls);
  });

  it('stops before calling when Sforce-Limit-Info shows the budget spent', async () => {
    await emu.close();
    emu = await startSalesforceEmulator({ dailyApiLimit: 10 });
    const acc = emu.insert('Account', { Name: 'Acme' });
    const guarded = connectTo(emu, { maxApiUsagePercent: 50, rateLimitBackoffMs: 60_000 });
    const items = [{ key: 'k', payload: { accountExternalId: acc, activeUsers: 1 } }];
    let err;
    for (let i = 0; i < 10 && !err; i++) {
      try {
        await guarded.push(quietCtx, { object: 'account-fields', items });
      } catch (e) {
        err = e;
      }
    }
    expect(err).toMatchObject({ kind: 'RATE_LIMITED', code: 'API_USAGE_THRESHOLD', retryAfterMs: 60_000 });
    const usage = guarded.stats().apiUsage;
    expect(usage).not.toBeNull();
    expect(usage!.used / usage!.limit).toBeGreaterThanOrEqual(0.5);
    const calls = emu.stats.apiCalls;
    expect(await connectorError(guarded.pull(quietCtx, { object: 'accounts', cursor: null })[Symbol.asyncIterator]().next())).toMatchObject({
      kind: 'RATE_LIMITED',
    });
    expect(emu.stats.apiCalls).toBe(calls);
    expect(guarded.stats().apiCalls).toBe(calls);
    await guarded.close();
  });
});
