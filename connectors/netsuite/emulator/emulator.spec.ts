import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, importPKCS8 } from 'jose';
import OAuth from 'oauth-1.0a';
import { createHmac } from 'node:crypto';
import { noProxy } from '../spec-helpers';
import { startNetSuiteEmulator, type NetSuiteEmulator } from './index';

const TOKEN = '/services/rest/auth/oauth2/v1/token';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are asserted field by field
type Body = any;

describe('NetSuite emulator', () => {
  let emu: NetSuiteEmulator;
  let token: string;

  beforeAll(async () => {
    noProxy();
    emu = await startNetSuiteEmulator();
  });
  afterAll(async () => {
    await emu.close();
  });

  async function assertion(over: { alg?: string; kid?: string; iss?: string; aud?: string; iat?: number; exp?: number; scope?: unknown; key?: string } = {}): Promise<string> {
    const c = emu.credentials.m2m!;
    const alg = over.alg ?? 'ES256';
    const key = await importPKCS8(over.key ?? c.privateKeyPem, alg);
    const iat = over.iat ?? Math.floor(emu.clock.nowMs() / 1000);
    return new SignJWT({ scope: over.scope === undefined ? ['restlets', 'rest_webservices'] : over.scope } as Record<string, unknown>)
      .setProtectedHeader({ alg, kid: over.kid ?? c.certificateId, typ: 'JWT' })
      .setIssuer(over.iss ?? c.clientId)
      .setAudience(over.aud ?? `${emu.url}${TOKEN}`)
      .setIssuedAt(iat)
      .setExpirationTime(over.exp ?? iat + 3600)
      .sign(key);
  }

  async function tokenRequest(jwt: string, grant = 'client_credentials'): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${emu.url}${TOKEN}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: grant, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: jwt }).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Body; location: string | null }> {
    const res = await fetch(`${emu.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, location: res.headers.get('location') };
  }

  const suiteql = (q: string, query = 'limit=1000&offset=0', prefer = true) =>
    api('POST', `/services/rest/query/v1/suiteql?${query}`, { q }, prefer ? { prefer: 'transient' } : {});

  describe('OAuth 2.0 client credentials', () => {
    it('issues a 60-minute bearer token for a good ES256 assertion', async () => {
      const r = await tokenRequest(await assertion());
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ access_token: expect.any(String), expires_in: '3600', token_type: 'bearer' });
      token = r.body.access_token as string;
      expect((await api('GET', '/services/rest/record/v1/customer?limit=5')).status).toBe(200);
    });

    it('accepts PS256 from a registered RSA certificate', async () => {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      emu.auth.addM2MClient({ clientId: 'rsa-client', certificateId: 'rsa-cert', publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() });
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const ok = await tokenRequest(await assertion({ alg: 'PS256', key: pem, kid: 'rsa-cert', iss: 'rsa-client' }));
      expect(ok.status).toBe(200);
      const rs = await tokenRequest(await assertion({ alg: 'RS256', key: pem, kid: 'rsa-cert', iss: 'rsa-client' }));
      expect(rs.status).toBe(400);
      expect(emu.stats.authFailures.at(-1)).toMatch(/RS256 not allowed/);
    });

    it.each([
      ['an unknown kid', { kid: 'nope' }, /unknown certificate/],
      ['another issuer', { iss: 'someone-else' }, /iss/],
      ['another audience', { aud: 'https://example.com/token' }, /aud/],
      ['exp - iat over an hour', { exp: Math.floor(Date.now() / 1000) + 3601, iat: Math.floor(Date.now() / 1000) }, /3600/],
      ['an expired assertion', { iat: Math.floor(Date.now() / 1000) - 4000, exp: Math.floor(Date.now() / 1000) - 400 }, /exp/],
      ['no rest_webservices scope', { scope: ['restlets'] }, /scope/],
    ])('refuses %s', async (_name, over, reason) => {
      const r = await tokenRequest(await assertion(over));
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('invalid_grant');
      expect(emu.stats.authFailures.at(-1)).toMatch(reason);
    });

    it('refuses an assertion signed by a key that is not the certificate', async () => {
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      expect((await tokenRequest(await assertion({ key: other }))).status).toBe(400);
      expect(emu.stats.authFailures.at(-1)).toMatch(/signature/);
    });

    it('expires tokens by its clock and on the fault switch, answering 401 INVALID_LOGIN', async () => {
      const t = (await tokenRequest(await assertion())).body.access_token as string;
      const prev = token;
      token = t;
      emu.clock.advance(3600_000);
      const r = await api('GET', '/services/rest/record/v1/customer');
      expect(r.status).toBe(401);
      expect(r.body['o:errorDetails'][0]['o:errorCode']).toBe('INVALID_LOGIN');
      emu.clock.release();
      expect((await api('GET', '/services/rest/record/v1/customer')).status).toBe(200);
      emu.faults.expireTokens();
      expect((await api('GET', '/services/rest/record/v1/customer')).status).toBe(401);
      token = (await tokenRequest(await assertion())).body.access_token as string;
      void prev;
    });
  });

  describe('token-based authentication (OAuth 1.0a HMAC-SHA256)', () => {
    function signer(secret?: string, realm?: string): OAuth {
      const t = emu.credentials.tba!;
      return new OAuth({
        consumer: { key: t.consumerKey, secret: secret ?? t.consumerSecret },
        signature_method: 'HMAC-SHA256',
        realm: realm ?? emu.accountId,
        hash_function: (base, key) => createHmac('sha256', key).update(base).digest('base64'),
      });
    }
    function header(o: OAuth, url: string, method = 'POST', tokenSecret?: string): string {
      const t = emu.credentials.tba!;
      return o.toHeader(o.authorize({ url, method }, { key: t.tokenId, secret: tokenSecret ?? t.tokenSecret })).Authorization;
    }
    const call = (url: string, auth: string) =>
      fetch(url, { method: 'POST', headers: { authorization: auth, prefer: 'transient', 'content-type': 'application/json' }, body: JSON.stringify({ q: 'SELECT id FROM customer' }) });

    it('accepts a correctly signed request (query parameters included in the base string)', async () => {
      const url = `${emu.url}/services/rest/query/v1/suiteql?limit=10&offset=0`;
      expect((await call(url, header(signer(), url))).status).toBe(200);
      expect(emu.stats.byAuthMode.tba).toBeGreaterThan(0);
    });

    it('refuses a wrong secret, a wrong realm, a reused nonce and an old timestamp', async () => {
      const url = `${emu.url}/services/rest/query/v1/suiteql?limit=10&offset=0`;
      expect((await call(url, header(signer('wrong-secret'), url))).status).toBe(401);
      expect(emu.stats.authFailures.at(-1)).toMatch(/signature/);
      expect((await call(url, header(signer(undefined, '999_OTHER'), url))).status).toBe(401);
      expect(emu.stats.authFailures.at(-1)).toMatch(/realm/);
      const h = header(signer(), url);
      expect((await call(url, h)).status).toBe(200);
      expect((await call(url, h)).status).toBe(401);
      expect(emu.stats.authFailures.at(-1)).toMatch(/nonce reused/);
      const old = signer();
      old.getTimeStamp = () => Math.floor(Date.now() / 1000) - 600;
      expect((await call(url, header(old, url))).status).toBe(401);
      expect(emu.stats.authFailures.at(-1)).toMatch(/timestamp/);
      // signed for other query parameters than sent
      expect((await call(`${emu.url}/services/rest/query/v1/suiteql?limit=11&offset=0`, header(signer(), url))).status).toBe(401);
    });
  });

  describe('record service', () => {
    it('creates with 204 + Location, lists in the envelope, gets with sublists as links unless expanded', async () => {
      const c = await api('POST', '/services/rest/record/v1/customer', { companyName: 'Acme GmbH', email: 'ap@acme.example', custentity_ehub_crm_id: '001A' });
      expect(c.status).toBe(204);
      expect(c.location).toMatch(new RegExp(`^${emu.url}/services/rest/record/v1/customer/\\d+$`));
      const customerId = c.location!.split('/').pop()!;
      const item = await api('POST', '/services/rest/record/v1/nonInventorySaleItem', { itemId: 'SKU-A', externalId: 'sku-a' });
      const itemId = item.location!.split('/').pop()!;
      const so = await api('POST', '/services/rest/record/v1/salesOrder', {
        entity: { id: customerId },
        tranDate: '2026-03-01',
        item: { items: [{ item: { id: itemId }, quantity: 3, rate: 19.99, custcol_ehub_start_date: '2026-03-01' }] },
      });
      expect(so.status).toBe(204);
      const soId = so.location!.split('/').pop()!;

      const list = await api('GET', '/services/rest/record/v1/customer?limit=1&offset=0');
      expect(list.status).toBe(200);
      expect(Object.keys(list.body).sort()).toEqual(['count', 'hasMore', 'items', 'links', 'offset', 'totalResults']);
      expect(list.body.items[0]).toEqual({ links: [{ rel: 'self', href: expect.stringContaining('/customer/') }], id: expect.any(String) });
      expect((await api('GET', '/services/rest/record/v1/customer?limit=1001')).status).toBe(400);

      const plain = await api('GET', `/services/rest/record/v1/salesOrder/${soId}`);
      expect(plain.body.item).toEqual({ links: [{ rel: 'self', href: expect.stringContaining(`/salesOrder/${soId}/item`) }] });
      expect(plain.body.entity).toEqual({ id: customerId });
      expect(plain.body.tranDate).toBe('2026-03-01');
      expect(plain.body.total).toBe('59.97');
      const expanded = await api('GET', `/services/rest/record/v1/salesOrder/${soId}?expandSubResources=true`);
      expect(expanded.body.item.items).toHaveLength(1);
      expect(expanded.body.item.items[0]).toMatchObject({ item: { id: itemId }, quantity: 3, rate: 19.99, custcol_ehub_start_date: '2026-03-01' });
    });

    it('upserts by eid: without ever duplicating, updates with PATCH and deletes', async () => {
      const cust = await api('POST', '/services/rest/record/v1/customer', { companyName: 'Usage Co' });
      const custId = cust.location!.split('/').pop()!;
      const body = { customer: { id: custId }, usageDate: '2026-03-31', usageQuantity: 12.5, memo: 'March' };
      const a = await api('PUT', '/services/rest/record/v1/usage/eid:ehub-usage:1:2026-03', body);
      const b = await api('PUT', '/services/rest/record/v1/usage/eid:ehub-usage:1:2026-03', { ...body, usageQuantity: 13 });
      expect([a.status, b.status]).toEqual([204, 204]);
      expect(a.location).toBe(b.location);
      expect(Number(emu.store.scalar("SELECT COUNT(*) FROM usage WHERE externalid = 'ehub-usage:1:2026-03'"))).toBe(1);
      expect(emu.store.scalar("SELECT usagequantity FROM usage WHERE externalid = 'ehub-usage:1:2026-03'")).toBe('13');
      expect((await api('PATCH', `/services/rest/record/v1/customer/${custId}`, { custentity_ehub_arr: '1200.50' })).status).toBe(204);
      expect((await api('GET', `/services/rest/record/v1/customer/${custId}`)).body.custentity_ehub_arr).toBe('1200.50');
      expect((await api('DELETE', `/services/rest/record/v1/customer/${custId}`)).status).toBe(204);
      const gone = await api('GET', `/services/rest/record/v1/customer/${custId}`);
      expect(gone.status).toBe(404);
      expect(gone.body['o:errorDetails'][0]['o:errorCode']).toBe('NONEXISTENT_ID');
    });

    it('answers errors in NetSuite shape and refuses a journal entry whose debits differ from its credits', async () => {
      const bad = await api('POST', '/services/rest/record/v1/customer', { companyName: 'X', notAField: 1 });
      expect(bad.status).toBe(400);
      expect(bad.body).toEqual({
        type: expect.stringContaining('rfc9110'),
        title: 'Bad Request',
        status: 400,
        'o:errorDetails': [{ detail: expect.stringContaining('notAField'), 'o:errorCode': 'INVALID_CONTENT', 'o:errorPath': 'notAField' }],
      });
      emu.store.insert('account', { acctnumber: '4000', acctname: 'Revenue' });
      emu.store.insert('account', { acctnumber: '2500', acctname: 'Deferred revenue' });
      const lines = (d: string, c: string) => ({ items: [{ account: { id: '1' }, debit: Number(d) }, { account: { id: '2' }, credit: Number(c) }] });
      const je = await api('PUT', '/services/rest/record/v1/journalEntry/eid:ehub-journal:2026-03:1:USD', { tranDate: '2026-03-31', line: lines('100.10', '100.01') });
      expect(je.status).toBe(400);
      expect(je.body['o:errorDetails'][0]).toMatchObject({ 'o:errorCode': 'USER_ERROR', 'o:errorPath': 'line' });
      expect(Number(emu.store.scalar('SELECT COUNT(*) FROM "transaction" WHERE type = \'Journal\''))).toBe(0);
      const ok = await api('PUT', '/services/rest/record/v1/journalEntry/eid:ehub-journal:2026-03:1:USD', { tranDate: '2026-03-31', line: lines('100.10', '100.10') });
      expect(ok.status).toBe(204);
    });

    it('refuses records a rejector picks, per record', async () => {
      emu.faults.rejectRecord(({ externalId }) => (externalId === 'bad-1' ? { code: 'USER_ERROR', detail: 'Rejected by a workflow', path: 'memo' } : null));
      const r = await api('PUT', '/services/rest/record/v1/customer/eid:bad-1', { companyName: 'Bad' });
      expect(r.status).toBe(400);
      expect(r.body['o:errorDetails'][0]).toMatchObject({ 'o:errorCode': 'USER_ERROR', 'o:errorPath': 'memo' });
      expect((await api('PUT', '/services/rest/record/v1/customer/eid:good-1', { companyName: 'Good' })).status).toBe(204);
      emu.faults.clear();
    });
  });

  describe('SuiteQL', () => {
    it('refuses a query without Prefer: transient, a limit over 1000 and an offset at the 100,000-row ceiling', async () => {
      const r = await suiteql('SELECT id FROM customer', 'limit=10&offset=0', false);
      expect(r.status).toBe(400);
      expect(r.body['o:errorDetails'][0]['o:errorPath']).toBe('Prefer');
      expect((await suiteql('SELECT id FROM customer', 'limit=1001&offset=0')).status).toBe(400);
      const ceiling = await suiteql('SELECT id FROM customer', 'limit=1000&offset=100000');
      expect(ceiling.status).toBe(400);
      expect(ceiling.body['o:errorDetails'][0]).toMatchObject({ 'o:errorCode': 'INVALID_PARAMETER', 'o:errorPath': 'offset' });
      const syntax = await suiteql('SELECT FROM WHERE');
      expect(syntax.status).toBe(400);
    });

    it("answers through SQLite: lower-case columns, 'T'/'F', display-format dates, text values, nulls left out", async () => {
      emu.clock.set('2026-04-02T10:11:12Z');
      const [cid] = emu.seed.customers([{ companyName: 'Dates Inc', crmId: null, isInactive: true }]);
      const [iid] = emu.seed.items([{ itemId: 'SKU-D' }]);
      const [tid] = emu.seed.transactions([{ type: 'SalesOrd', entity: cid, tranDate: '2026-04-01', lines: [{ item: iid, quantity: '2', rate: '0.10' }] }]);
      const r = await suiteql(
        `SELECT c.ID, c.IsInactive, c.custentity_ehub_crm_id, t.trandate, t.lastmodifieddate, TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lmd,
                t.foreigntotal, tl.mainline, cur.symbol
           FROM transaction t JOIN customer c ON c.id = t.entity JOIN transactionline tl ON tl.transaction = t.id
           JOIN currency cur ON cur.id = t.currency
          WHERE t.id = ${tid} AND t.trandate >= TO_DATE('2026-04-01', 'YYYY-MM-DD') ORDER BY tl.linesequencenumber`,
      );
      expect(r.status).toBe(200);
      expect(r.body.items).toEqual([
        { links: [], id: String(cid), isinactive: 'T', trandate: '4/1/2026', lastmodifieddate: '4/2/2026', lmd: '2026-04-02 10:11:12', foreigntotal: '0.2', mainline: 'T', symbol: 'USD' },
        { links: [], id: String(cid), isinactive: 'T', trandate: '4/1/2026', lastmodifieddate: '4/2/2026', lmd: '2026-04-02 10:11:12', foreigntotal: '0.2', mainline: 'F', symbol: 'USD' },
      ]);
      expect(r.body).toMatchObject({ count: 2, hasMore: false, offset: 0, totalResults: 2 });
      emu.clock.release();
    });

    it('pages with links and hasMore, and a record-service write moves lastmodifieddate by the emulator clock', async () => {
      emu.seed.customers(Array.from({ length: 25 }, (_, i) => ({ companyName: `Paged ${i}` })));
      const p1 = await suiteql("SELECT id FROM customer WHERE companyname LIKE 'Paged%' ORDER BY id", 'limit=10&offset=20');
      expect(p1.body).toMatchObject({ count: 5, hasMore: false, offset: 20, totalResults: 25 });
      const p0 = await suiteql("SELECT id FROM customer WHERE companyname LIKE 'Paged%' ORDER BY id", 'limit=10&offset=0');
      expect(p0.body.hasMore).toBe(true);
      expect(p0.body.links.map((l: { rel: string }) => l.rel)).toContain('next');
      const id = p0.body.items[0].id as string;
      emu.clock.set('2030-01-02T03:04:05Z');
      token = (await tokenRequest(await assertion())).body.access_token as string;
      expect((await api('PATCH', `/services/rest/record/v1/customer/${id}`, { phone: '555' })).status).toBe(204);
      const after = await suiteql(`SELECT TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lmd, phone FROM customer WHERE id = ${id}`);
      expect(after.body.items[0]).toMatchObject({ lmd: '2030-01-02 03:04:05', phone: '555' });
      emu.clock.release();
    });

    it('seeds 120,000 transactions directly and caps paging at 100,000 rows', async () => {
      const [cid] = emu.seed.customers([{ companyName: 'Big' }]);
      const ids = emu.seed.transactions(Array.from({ length: 120_000 }, () => ({ type: 'CustCred' as const, entity: cid, tranDate: '2026-01-01', total: '1.00' })));
      expect(ids).toHaveLength(120_000);
      const r = await suiteql("SELECT id FROM transaction WHERE type = 'CustCred' ORDER BY id", 'limit=1000&offset=99000');
      expect(r.body).toMatchObject({ count: 1000, hasMore: true, totalResults: 120_000 });
      expect((await suiteql("SELECT id FROM transaction WHERE type = 'CustCred' ORDER BY id", 'limit=1000&offset=100000')).status).toBe(400);
    }, 300_000);
  });

  describe('governance', () => {
    it('answers 429 CONCURRENCY_LIMIT_EXCEEDED to the 6th concurrent request and counts the peak', async () => {
      emu.resetStats();
      // Each request held 1 s: all six arrive while the first five are in flight, even on a busy
      // machine (150 ms let the first finish before the sixth arrived under a loaded CI run).
      emu.faults.set({ latencyMs: 1_000 });
      const results = await Promise.all(Array.from({ length: 6 }, () => api('GET', '/services/rest/record/v1/customer?limit=1')));
      emu.faults.clear();
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
      const refused = results.find((r) => r.status === 429)!;
      expect(refused.body['o:errorDetails'][0]['o:errorCode']).toBe('CONCURRENCY_LIMIT_EXCEEDED');
      expect(emu.stats.maxConcurrency).toBe(5);
      expect(emu.stats.throttled).toBe(1);
    });

    it('fails queued requests per endpoint with 5xx', async () => {
      emu.faults.queueOn('POST suiteql', 'HTTP_503');
      expect((await suiteql('SELECT id FROM customer')).status).toBe(503);
      expect((await suiteql('SELECT id FROM customer')).status).toBe(200);
    });
  });
});
