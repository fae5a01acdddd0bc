import { ConnectorError } from '../types';
import { baseUrlFor, JsonDecimal, stringifyWithDecimals, type KeysetPosition } from './client';
import { startNetSuiteEmulator, type NetSuiteEmulator } from './emulator';
import { m2mClient, noProxy, tbaClient } from './spec-helpers';
import { absDecimal, parseBool, parseDecimal, parseDisplayDate, parseIsoDate, parseTimestamp, sqlString } from './values';

describe('NetSuite client', () => {
  let emu: NetSuiteEmulator;

  beforeAll(async () => {
    noProxy();
    emu = await startNetSuiteEmulator();
    emu.seed.customers([{ companyName: 'One' }, { companyName: 'Two' }]);
  });
  afterAll(async () => {
    await emu.close();
  });
  afterEach(() => {
    emu.faults.clear();
    emu.clock.release();
  });

  it('normalises the base URL from the account id', () => {
    expect(baseUrlFor('1234567_SB1')).toBe('https://1234567-sb1.suitetalk.api.netsuite.com');
    expect(baseUrlFor('TSTDRV123')).toBe('https://tstdrv123.suitetalk.api.netsuite.com');
  });

  describe('OAuth 2.0 client credentials', () => {
    it('caches the token and renews it 5 minutes before it expires, by the clock', async () => {
      emu.clock.set('2026-12-01T10:00:00Z');
      const c = m2mClient(emu);
      await c.suiteql('SELECT id FROM customer');
      await c.suiteql('SELECT id FROM customer');
      expect(c.tokenRequests).toBe(1);
      emu.clock.advance(54 * 60_000);
      await c.suiteql('SELECT id FROM customer');
      expect(c.tokenRequests).toBe(1);
      const failuresBefore = emu.stats.authFailures.length;
      emu.clock.advance(2 * 60_000); // 56 min: inside the 5-minute margin
      await c.suiteql('SELECT id FROM customer');
      expect(c.tokenRequests).toBe(2);
      expect(emu.stats.authFailures.length).toBe(failuresBefore); // renewed before a 401
    });

    it('refreshes once on 401 (expired token) and goes on', async () => {
      const c = m2mClient(emu);
      await c.suiteql('SELECT id FROM customer');
      emu.faults.expireTokens();
      const page = await c.suiteql('SELECT id FROM customer ORDER BY id');
      expect(page.items.length).toBeGreaterThan(0);
      expect(c.tokenRequests).toBe(2);
    });

    it('throws AUTH when the credentials are refused', async () => {
      const c = m2mClient(emu, {});
      (c.options.auth as { certificateId: string }).certificateId = 'not-registered';
      await expect(c.suiteql('SELECT id FROM customer')).rejects.toMatchObject({ kind: 'AUTH' });
    });
  });

  describe('token-based authentication', () => {
    it('signs every attempt anew: a retried request is not refused as a replay', async () => {
      const c = tbaClient(emu);
      emu.faults.queueOn('POST suiteql', 'HTTP_503', 'HTTP_500');
      const page = await c.suiteql('SELECT id FROM customer');
      expect(page.items.length).toBeGreaterThan(0);
      expect(c.apiCalls).toBe(3);
      expect(emu.stats.authFailures.filter((f) => /nonce/.test(f))).toEqual([]);
    });

    it('throws AUTH for a wrong token secret', async () => {
      const c = tbaClient(emu);
      (c.options.auth as { tokenSecret: string }).tokenSecret = 'wrong';
      await expect(c.suiteql('SELECT id FROM customer')).rejects.toMatchObject({ kind: 'AUTH', code: 'INVALID_LOGIN' });
    });
  });

  describe('governance', () => {
    it('waits out 429s without spending attempts', async () => {
      const c = m2mClient(emu, { maxAttempts: 2 });
      emu.faults.burst429(8);
      const page = await c.suiteql('SELECT id FROM customer');
      expect(page.items.length).toBeGreaterThan(0);
      expect(c.throttled).toBe(8);
    });

    it('gives up on 5xx after maxAttempts with UNAVAILABLE', async () => {
      const c = m2mClient(emu, { maxAttempts: 3 });
      emu.faults.queueOn('POST suiteql', 'HTTP_503', 'HTTP_503', 'HTTP_503', 'HTTP_503');
      const err = await c.suiteql('SELECT id FROM customer').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorError);
      expect(err).toMatchObject({ kind: 'UNAVAILABLE', code: 'HTTP_503' });
      emu.faults.clear();
    });

    it('does not resend a POST create after a 5xx (it may have been applied)', async () => {
      const c = m2mClient(emu);
      emu.faults.queueOn('POST record/customer', 'APPLY_THEN_503');
      await expect(c.createRecord('customer', { companyName: 'Once' })).rejects.toMatchObject({ kind: 'UNAVAILABLE' });
      expect(Number(emu.store.scalar("SELECT COUNT(*) FROM customer WHERE companyname = 'Once'"))).toBe(1);
    });

    it('10 parallel upserts against a limit of 5 with 20% 5xx and an expired token: each lands exactly once', async () => {
      const [cust] = emu.seed.customers([{ companyName: 'Parallel' }]);
      emu.resetStats();
      emu.faults.set({ rate: 0.2, latencyMs: 20 });
      emu.faults.expireTokens();
      const c = m2mClient(emu, { concurrency: 10, maxAttempts: 8 });
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          c.upsertByExternalId('usage', `par-${i}`, { customer: { id: String(cust) }, usageDate: '2026-03-31', usageQuantity: new JsonDecimal(`${i}.125`) }),
        ),
      );
      emu.faults.clear();
      expect(results.every((r) => r.ok)).toBe(true);
      const rows = emu.store.all("SELECT externalid, usagequantity FROM usage WHERE externalid LIKE 'par-%' ORDER BY externalid");
      expect(rows).toEqual(Array.from({ length: 10 }, (_, i) => ({ externalid: `par-${i}`, usagequantity: `${i}.125` })));
      expect(emu.stats.maxConcurrency).toBeLessThanOrEqual(5);
      expect(emu.stats.throttled).toBeGreaterThan(0);
      expect(emu.stats.faultsInjected).toBeGreaterThan(0);
    });
  });

  describe('SuiteQL paging', () => {
    it('keyset pages cross the 100,000-row offset ceiling without losing or repeating a row', async () => {
      const base = Date.parse('2026-06-01T00:00:00Z');
      const [cust] = emu.seed.customers([{ companyName: 'Ledger' }]);
      // 120,000 payments, ~8 per second of lastmodifieddate (ties broken by id)
      const ids = emu.seed.transactions(
        Array.from({ length: 120_000 }, (_, i) => ({
          type: 'CustPymt' as const,
          entity: cust,
          tranDate: '2026-06-01',
          total: '10.00',
          lastModified: new Date(base + Math.floor(i / 8) * 1000).toISOString(),
        })),
      );
      const c = m2mClient(emu);
      const build = (after: KeysetPosition | null): string => {
        const cond = after
          ? `AND (t.lastmodifieddate > TO_TIMESTAMP(${sqlString(after.lmd)}, 'YYYY-MM-DD HH24:MI:SS') OR (t.lastmodifieddate = TO_TIMESTAMP(${sqlString(after.lmd)}, 'YYYY-MM-DD HH24:MI:SS') AND t.id > ${Number(after.id)}))`
          : '';
        return `SELECT t.id, TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lmd FROM transaction t WHERE t.type = 'CustPymt' ${cond} ORDER BY t.lastmodifieddate, t.id`;
      };
      const seen: number[] = [];
      let pages = 0;
      for await (const p of c.keysetPages(build, null)) {
        pages++;
        for (const r of p.rows) seen.push(Number(r.id));
      }
      expect(seen.length).toBe(120_000);
      expect(new Set(seen).size).toBe(120_000);
      expect(seen).toEqual(ids);
      expect(pages).toBe(120);
    }, 300_000);

    it('offset paging: the page before the ceiling says hasMore, the ceiling itself is refused as INVALID', async () => {
      const c = m2mClient(emu);
      const q = "SELECT id FROM transaction WHERE type = 'CustPymt' ORDER BY id";
      const last = await c.suiteql(q, { limit: 1000, offset: 99_000 });
      expect(last).toMatchObject({ count: 1000, hasMore: true, totalResults: 120_000 });
      await expect(c.suiteql(q, { limit: 1000, offset: 100_000 })).rejects.toMatchObject({ kind: 'INVALID', code: 'INVALID_PARAMETER' });
      const small: string[][] = [];
      for await (const rows of c.suiteqlAll('SELECT id FROM customer ORDER BY id', { pageSize: 1 })) small.push(rows.map((r) => r.id));
      expect(small.length).toBe(Number(emu.store.scalar('SELECT COUNT(*) FROM customer')));
    }, 300_000);
  });
});

describe('NetSuite values', () => {
  it("parses 'T'/'F', display dates, timestamps and decimals exactly", () => {
    expect([parseBool('T'), parseBool('F'), parseBool(undefined)]).toEqual([true, false, null]);
    expect(parseDisplayDate('4/1/2026')).toBe('2026-04-01');
    expect(parseDisplayDate('12/31/2026')).toBe('2026-12-31');
    expect(parseDisplayDate('2/30/2026')).toBeNull();
    expect(parseDisplayDate('1/4/2026', 'D/M/YYYY')).toBe('2026-04-01');
    expect(parseIsoDate('2026-02-29')).toBeNull();
    expect(parseTimestamp('2026-04-02 10:11:12')).toBe('2026-04-02T10:11:12.000Z');
    expect(parseDecimal('1200.50')).toBe('1200.5');
    expect(parseDecimal('.5')).toBe('0.5');
    expect(parseDecimal('-0.00')).toBe('0');
    expect(parseDecimal('123456789012345678.123456789')).toBe('123456789012345678.123456789');
    expect(parseDecimal('1e3')).toBeNull();
    expect(absDecimal('-12.5')).toBe('12.5');
  });

  it('writes decimals into JSON digit for digit', () => {
    expect(stringifyWithDecimals({ a: new JsonDecimal('0.1'), b: [new JsonDecimal('123456789012345678.99')], c: 'x' })).toBe(
      '{"a":0.1,"b":[123456789012345678.99],"c":"x"}',
    );
  });
});
