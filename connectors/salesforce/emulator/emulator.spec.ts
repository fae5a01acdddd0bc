for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) delete process.env[k];

import { createSign, generateKeyPairSync } from 'node:crypto';
import { Connection } from 'jsforce';
import { parse } from 'csv-parse/sync';
import { startSalesforceEmulator, type SalesforceEmulator, type SalesforceEmulatorOptions } from './index';
import { caseSafeSuffix, normalizeId } from './ids';

const CLIENT = { clientId: 'spec-client', clientSecret: 'spec-secret' };
const USER = { username: 'sync@example.com', password: 'pw-123' };
const V = '/services/data/v62.0';

interface Json {
  [k: string]: unknown;
}

async function start(extra: SalesforceEmulatorOptions = {}): Promise<SalesforceEmulator> {
  return startSalesforceEmulator({ clients: [CLIENT], users: [USER], bulkProcessingDelayMs: 5, ...extra });
}

async function token(emu: SalesforceEmulator, params: Record<string, string>): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${emu.url}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

async function login(emu: SalesforceEmulator): Promise<string> {
  const t = await token(emu, { grant_type: 'client_credentials', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret });
  return t.body.access_token as string;
}

/** A tiny REST client over fetch (status, parsed body, headers). */
function api(emu: SalesforceEmulator, tok: () => string) {
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown; headers: Headers }> => {
    const res = await fetch(path.startsWith('http') ? path : `${emu.url}${path.startsWith('/services') ? '' : V}${path}`, {
      method,
      headers: { authorization: `Bearer ${tok()}`, ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').startsWith('application/json') && text) parsed = JSON.parse(text);
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

const q = (soql: string): string => `/query?q=${encodeURIComponent(soql)}`;

function jwt(claims: Json, privateKey: string): string {
  const enc = (o: Json): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc(claims)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')}`;
}

describe('ids', () => {
  it('computes the case-safe suffix and normalizes 15/18-character ids in any case', () => {
    // A documented example: 001A0000006Vm9r → 001A0000006Vm9rIAC
    expect(caseSafeSuffix('001A0000006Vm9r')).toBe('IAC');
    expect(normalizeId('001A0000006Vm9r')).toBe('001A0000006Vm9rIAC');
    expect(normalizeId('001a0000006vm9riac')).toBe('001A0000006Vm9rIAC');
    expect(normalizeId('not-an-id')).toBeNull();
  });
});

describe('Salesforce emulator', () => {
  let emu: SalesforceEmulator;
  let tok = '';
  let call: ReturnType<typeof api>;

  beforeEach(async () => {
    emu = await start({ pageSize: 7 });
    tok = await login(emu);
    call = api(emu, () => tok);
  });
  afterEach(async () => {
    await emu.close();
  });

  describe('OAuth', () => {
    it('grants client_credentials and password tokens, refuses bad credentials', async () => {
      const cc = await token(emu, { grant_type: 'client_credentials', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret });
      expect(cc.status).toBe(200);
      expect(cc.body).toMatchObject({ instance_url: emu.url, token_type: 'Bearer', scope: 'api' });
      expect(String(cc.body.id)).toMatch(new RegExp(`^${emu.url}/id/00D\\w{15}/005\\w{15}$`));

      const pw = await token(emu, { grant_type: 'password', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, username: USER.username, password: USER.password });
      expect(pw.status).toBe(200);

      expect(await token(emu, { grant_type: 'password', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, username: USER.username, password: 'nope' })).toEqual({
        status: 400,
        body: { error: 'invalid_grant', error_description: 'authentication failure' },
      });
      expect((await token(emu, { grant_type: 'client_credentials', client_id: CLIENT.clientId, client_secret: 'wrong' })).body.error).toBe('invalid_client');
      expect((await token(emu, { grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'x' })).body.error).toBe('invalid_client_id');
      expect((await token(emu, { grant_type: 'magic' })).body.error).toBe('unsupported_grant_type');
    });

    it('verifies RS256 JWT bearer assertions with the connected app key', async () => {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
      const other = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
      const e2 = await start({ clients: [{ ...CLIENT, jwtPublicKeyPem: publicKey }] });
      try {
        const exp = Math.floor(Date.now() / 1000) + 180;
        const grant = (assertion: string) => token(e2, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion });
        const good = await grant(jwt({ iss: CLIENT.clientId, sub: USER.username, aud: 'https://login.salesforce.com', exp }, privateKey));
        expect(good.status).toBe(200);
        const res = await fetch(`${e2.url}${V}/limits`, { headers: { authorization: `Bearer ${String(good.body.access_token)}` } });
        expect(res.status).toBe(200);
        expect((await grant(jwt({ iss: CLIENT.clientId, sub: USER.username, aud: e2.url, exp }, privateKey))).status).toBe(200);

        expect((await grant(jwt({ iss: CLIENT.clientId, sub: USER.username, aud: e2.url, exp }, other.privateKey))).body).toMatchObject({ error: 'invalid_grant' });
        expect((await grant(jwt({ iss: CLIENT.clientId, sub: USER.username, aud: 'https://evil.example', exp }, privateKey))).body).toMatchObject({ error: 'invalid_grant' });
        expect((await grant(jwt({ iss: CLIENT.clientId, sub: USER.username, aud: e2.url, exp: exp - 3600 }, privateKey))).body).toMatchObject({ error: 'invalid_grant' });
        expect((await grant(jwt({ iss: CLIENT.clientId, sub: 'stranger@example.com', aud: e2.url, exp }, privateKey))).body).toMatchObject({ error: 'invalid_grant' });
      } finally {
        await e2.close();
      }
    });

    it('rejects data calls without a valid bearer token', async () => {
      const res = await fetch(`${emu.url}${V}/sobjects`, { headers: { authorization: 'Bearer nope' } });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual([{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
    });

    it('works with jsforce (username-password login over OAuth, query, describe)', async () => {
      emu.insert('Account', { Name: 'Jsforce Co' });
      const conn = new Connection({ loginUrl: emu.url, version: '62.0', oauth2: { loginUrl: emu.url, clientId: CLIENT.clientId, clientSecret: CLIENT.clientSecret } });
      const info = await conn.login(USER.username, USER.password);
      expect(info.organizationId).toMatch(/^00D/);
      const res = await conn.query<{ Name: string }>('SELECT Id, Name FROM Account');
      expect(res.records.map((r) => r.Name)).toEqual(['Jsforce Co']);
      const d = await conn.describe('Opportunity');
      const key = d.fields.find((f) => f.name === 'Ehub_Renewal_Key__c');
      expect(key).toMatchObject({ externalId: true, unique: true, type: 'string', length: 255 });
      expect(d.fields.find((f) => f.name === 'IsWon')).toMatchObject({ calculated: true, createable: false, updateable: false });
      expect(conn.limitInfo.apiUsage?.limit).toBe(1_000_000);
    });
  });

  describe('query', () => {
    it('pages through nextRecordsUrl with the configured page size and the batchSize header', async () => {
      const ids = Array.from({ length: 20 }, (_, i) => emu.insert('Account', { Name: `Acct ${String(i).padStart(2, '0')}` }));
      const seen: string[] = [];
      let res = await call('GET', q('SELECT Id, Name FROM Account ORDER BY Name'));
      const sizes: number[] = [];
      for (;;) {
        const b = res.body as { totalSize: number; done: boolean; nextRecordsUrl?: string; records: Json[] };
        expect(b.totalSize).toBe(20);
        sizes.push(b.records.length);
        seen.push(...b.records.map((r) => r.Id as string));
        if (b.done) break;
        expect(b.nextRecordsUrl).toMatch(/^\/services\/data\/v62\.0\/query\/01g\w{15}-\d+$/);
        res = await call('GET', b.nextRecordsUrl as string);
      }
      expect(sizes).toEqual([7, 7, 6]);
      expect(seen).toEqual(ids);

      const small = await call('GET', q('SELECT Id FROM Account'), undefined, { 'Sforce-Query-Options': 'batchSize=5' });
      expect((small.body as { records: unknown[] }).records).toHaveLength(5);
      expect((await call('GET', '/query/01gBOGUS-7')).body).toMatchObject([{ errorCode: 'INVALID_QUERY_LOCATOR' }]);

      const conn = new Connection({ instanceUrl: emu.url, accessToken: tok, version: '62.0' });
      const all = await conn.query('SELECT Id FROM Account').run({ autoFetch: true, maxFetch: 100 });
      expect(all.records).toHaveLength(20);
    });

    it('filters with AND/OR/NOT, IN, LIKE, null, dates and datetimes; orders; limits and offsets', async () => {
      emu.clock.set('2026-03-01T10:00:00Z');
      const a = emu.insert('Account', { Name: 'Alpha', Website: 'alpha.io', Ehub_Next_Renewal_Date__c: '2026-06-30', Ehub_ARR__c: 1200 });
      emu.clock.advance(60_000);
      const b = emu.insert('Account', { Name: "O'Brien", Ehub_Next_Renewal_Date__c: '2027-01-15', Ehub_ARR__c: 50.25 });
      emu.clock.advance(60_000);
      const c = emu.insert('Account', { Name: 'beta', Ehub_Overuse__c: true });
      const ids = async (soql: string): Promise<string[]> => {
        const r = await call('GET', q(soql));
        expect(r.status).toBe(200);
        return (r.body as { records: Json[] }).records.map((x) => x.Id as string);
      };
      expect(await ids("SELECT Id FROM Account WHERE Name = 'ALPHA'")).toEqual([a]);
      expect(await ids("SELECT Id FROM Account WHERE Name = 'O\\'Brien'")).toEqual([b]);
      expect(await ids("SELECT Id FROM Account WHERE Name LIKE 'B%' OR Website != null ORDER BY Name")).toEqual([a, c]);
      expect(await ids('SELECT Id FROM Account WHERE Website = null AND NOT (Ehub_Overuse__c = true)')).toEqual([b]);
      expect(await ids(`SELECT Id FROM Account WHERE Id IN ('${a}', '${c.slice(0, 15)}') ORDER BY Id DESC`)).toEqual([c, a]);
      expect(await ids(`SELECT Id FROM Account WHERE Id NOT IN ('${a}')`)).toEqual([b, c]);
      expect(await ids('SELECT Id FROM Account WHERE Ehub_Next_Renewal_Date__c < 2027-01-01')).toEqual([a]);
      expect(await ids('SELECT Id FROM Account WHERE Ehub_ARR__c >= 50.25 ORDER BY Ehub_ARR__c DESC')).toEqual([a, b]);
      expect(await ids('SELECT Id FROM Account WHERE CreatedDate > 2026-03-01T10:00:30Z')).toEqual([b, c]);
      expect(await ids('SELECT Id FROM Account WHERE CreatedDate <= 2026-03-01T10:01:00.000+0000')).toEqual([a, b]);
      expect(await ids('SELECT Id FROM Account ORDER BY Ehub_ARR__c ASC NULLS LAST, Name LIMIT 2 OFFSET 1')).toEqual([a, c]);
      expect(await ids('SELECT Id FROM Account WHERE CreatedDate = TODAY')).toEqual([a, b, c]);

      const count = await call('GET', q("SELECT COUNT() FROM Account WHERE Name != 'beta'"));
      expect(count.body).toEqual({ totalSize: 2, done: true, records: [] });

      const rendered = await call('GET', q(`SELECT Id, Name, Ehub_ARR__c, Ehub_Overuse__c, CreatedDate, Ehub_Next_Renewal_Date__c FROM Account WHERE Id = '${a}'`));
      expect((rendered.body as { records: Json[] }).records[0]).toEqual({
        attributes: { type: 'Account', url: `${V}/sobjects/Account/${a}` },
        Id: a,
        Name: 'Alpha',
        Ehub_ARR__c: 1200,
        Ehub_Overuse__c: false,
        CreatedDate: '2026-03-01T10:00:00.000+0000',
        Ehub_Next_Renewal_Date__c: '2026-06-30',
      });
    });

    it('reports unknown fields, wrong literal types and unparsable SOQL as Salesforce does', async () => {
      expect((await call('GET', q('SELECT Id, Nope__c FROM Account'))).body).toMatchObject([{ errorCode: 'INVALID_FIELD' }]);
      expect((await call('GET', q("SELECT Id FROM Account WHERE CreatedDate > '2026-01-01'"))).body).toMatchObject([{ errorCode: 'INVALID_FIELD' }]);
      expect((await call('GET', q('SELECT FROM Account'))).body).toMatchObject([{ errorCode: 'MALFORMED_QUERY' }]);
      expect((await call('GET', q('SELECT Id FROM Nothing__c'))).body).toMatchObject([{ errorCode: 'INVALID_TYPE' }]);
      expect((await call('GET', q('SELECT Id FROM Account'))).status).toBe(200);
    });

    it('queryAll also returns deleted records', async () => {
      const keep = emu.insert('Account', { Name: 'Keep' });
      const gone = emu.insert('Account', { Name: 'Gone' });
      expect((await call('DELETE', `/sobjects/Account/${gone}`)).status).toBe(204);
      const live = await call('GET', q('SELECT Id, IsDeleted FROM Account'));
      expect((live.body as { records: Json[] }).records.map((r) => r.Id)).toEqual([keep]);
      const all = await call('GET', `/queryAll?q=${encodeURIComponent('SELECT Id, IsDeleted FROM Account ORDER BY Id')}`);
      expect((all.body as { records: Json[] }).records.map((r) => [r.Id, r.IsDeleted])).toEqual([
        [keep, false],
        [gone, true],
      ]);
      expect((await call('GET', `/sobjects/Account/${gone}`)).body).toMatchObject([{ errorCode: 'ENTITY_IS_DELETED' }]);
      emu.undelete('Account', gone);
      expect(emu.get('Account', gone)?.IsDeleted).toBe(false);
    });

    it('shares SystemModstamp under a frozen clock; (SystemModstamp, Id) ordering gives a stable cursor', async () => {
      emu.clock.set('2026-05-01T00:00:00.000Z');
      const ids = Array.from({ length: 5 }, (_, i) => emu.insert('Account', { Name: `Same ${i}` }));
      const stamps = new Set(emu.records('Account').map((r) => r.SystemModstamp));
      expect([...stamps]).toEqual(['2026-05-01T00:00:00.000+0000']);
      expect([...ids].sort()).toEqual(ids); // id order = creation order
      emu.clock.advance(1000);
      emu.update('Account', ids[1], { Website: 'later.io' });
      const soql = `SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp > 2026-05-01T00:00:00.000+0000 OR (SystemModstamp = 2026-05-01T00:00:00.000+0000 AND Id > '${ids[2]}') ORDER BY SystemModstamp, Id`;
      const res = await call('GET', q(soql));
      expect((res.body as { records: Json[] }).records.map((r) => [r.Id, r.SystemModstamp])).toEqual([
        [ids[3], '2026-05-01T00:00:00.000+0000'],
        [ids[4], '2026-05-01T00:00:00.000+0000'],
        [ids[1], '2026-05-01T00:00:01.000+0000'],
      ]);
      emu.clock.release();
      expect(Math.abs(emu.clock.now().getTime() - Date.now())).toBeLessThan(1000);
    });

    it('returns parent relationship fields and child subqueries', async () => {
      const deal = emu.seedDeal({ accountName: 'Parent Co', lines: [{ productCode: 'P-1', quantity: 2, unitPrice: 10 }] });
      const res = await call('GET', q('SELECT Id, Opportunity.AccountId, Opportunity.Account.Name, Product2.ProductCode FROM OpportunityLineItem'));
      const rec = (res.body as { records: Json[] }).records[0];
      expect(rec.Opportunity).toMatchObject({ AccountId: deal.accountId, Account: { Name: 'Parent Co' } });
      expect(rec.Product2).toMatchObject({ ProductCode: 'P-1' });
      const sub = await call('GET', q('SELECT Id, (SELECT Id, Quantity FROM OpportunityLineItems) FROM Opportunity'));
      expect((sub.body as { records: Json[] }).records[0].OpportunityLineItems).toMatchObject({ totalSize: 1, done: true, records: [{ Id: deal.lineIds[0], Quantity: 2 }] });
    });
  });

  describe('data rules', () => {
    it('derives IsWon/IsClosed, TotalPrice, line ProductCode/Name, the Amount roll-up and Contact Name', async () => {
      const deal = emu.seedDeal({
        accountName: 'Derive Inc',
        stageName: 'Negotiation/Review',
        currency: 'EUR',
        lines: [
          { productCode: 'SKU-A', productName: 'Seats', quantity: 3, unitPrice: 100.5, serviceDate: '2026-01-01', endDate: '2026-12-31' },
          { productCode: 'SKU-B', quantity: 1, unitPrice: 20 },
        ],
      });
      const opp = emu.get('Opportunity', deal.opportunityId);
      expect(opp).toMatchObject({ IsWon: false, IsClosed: false, Amount: 321.5, CurrencyIsoCode: 'EUR', HasOpportunityLineItem: true });
      expect(emu.get('OpportunityLineItem', deal.lineIds[0])).toMatchObject({ ProductCode: 'SKU-A', Name: 'Seats', TotalPrice: 301.5, CurrencyIsoCode: 'EUR', Ehub_End_Date__c: '2026-12-31' });

      expect((await call('PATCH', `/sobjects/Opportunity/${deal.opportunityId}`, { StageName: 'Closed Won' })).status).toBe(204);
      expect(emu.get('Opportunity', deal.opportunityId)).toMatchObject({ IsWon: true, IsClosed: true });
      await call('PATCH', `/sobjects/Opportunity/${deal.opportunityId}`, { StageName: 'Closed Lost' });
      expect(emu.get('Opportunity', deal.opportunityId)).toMatchObject({ IsWon: false, IsClosed: true });

      const contact = await call('POST', '/sobjects/Contact', { FirstName: 'Ada', LastName: 'Lovelace', AccountId: deal.accountId });
      expect(contact.status).toBe(201);
      expect(emu.get('Contact', (contact.body as Json).id as string)?.Name).toBe('Ada Lovelace');

      const ro = await call('PATCH', `/sobjects/OpportunityLineItem/${deal.lineIds[0]}`, { TotalPrice: 5 });
      expect(ro.status).toBe(400);
      expect(ro.body).toMatchObject([{ errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE', fields: ['TotalPrice'] }]);
      expect((await call('PATCH', `/sobjects/Account/${deal.accountId}`, { Bogus__c: 1 })).body).toMatchObject([{ errorCode: 'INVALID_FIELD' }]);
      expect((await call('PATCH', `/sobjects/Account/${deal.accountId}`, { Ehub_Churn_Risk__c: 'x'.repeat(11) })).body).toMatchObject([{ errorCode: 'STRING_TOO_LONG' }]);
      expect((await call('PATCH', `/sobjects/Account/${deal.accountId}`, { Ehub_Health_Score__c: 1000 })).body).toMatchObject([{ errorCode: 'NUMBER_OUTSIDE_VALID_RANGE' }]);
      expect((await call('PATCH', `/sobjects/Account/${deal.accountId}`, { Ehub_Next_Renewal_Date__c: 'soon' })).body).toMatchObject([{ errorCode: 'JSON_PARSER_ERROR' }]);
      expect((await call('POST', '/sobjects/Account', {})).body).toMatchObject([{ errorCode: 'REQUIRED_FIELD_MISSING', fields: ['Name'] }]);
      expect((await call('GET', '/sobjects/Account/001000000000000AAA')).status).toBe(404);
    });

    it('bumps the parent opportunity on line create/update/delete and soft-deletes lines with their opportunity', async () => {
      emu.clock.set('2026-02-01T00:00:00Z');
      const deal = emu.seedDeal({ accountName: 'Bump', lines: [{ productCode: 'L-1', quantity: 1, unitPrice: 10 }] });
      emu.clock.advance(5000);
      expect((await call('PATCH', `/sobjects/OpportunityLineItem/${deal.lineIds[0]}`, { Quantity: 4 })).status).toBe(204);
      expect(emu.get('Opportunity', deal.opportunityId)).toMatchObject({ SystemModstamp: '2026-02-01T00:00:05.000+0000', LastModifiedDate: '2026-02-01T00:00:05.000+0000', Amount: 40 });
      emu.clock.advance(5000);
      const product = emu.records('Product2')[0].Id as string;
      const added = await call('POST', '/sobjects/OpportunityLineItem', { OpportunityId: deal.opportunityId, Product2Id: product, Quantity: 1, UnitPrice: 2.5 });
      expect(added.status).toBe(201);
      expect(emu.get('Opportunity', deal.opportunityId)).toMatchObject({ SystemModstamp: '2026-02-01T00:00:10.000+0000', Amount: 42.5 });
      emu.clock.advance(5000);
      await call('DELETE', `/sobjects/OpportunityLineItem/${deal.lineIds[0]}`);
      expect(emu.get('Opportunity', deal.opportunityId)).toMatchObject({ SystemModstamp: '2026-02-01T00:00:15.000+0000', Amount: 2.5 });

      emu.clock.advance(5000);
      expect((await call('DELETE', `/sobjects/Opportunity/${deal.opportunityId}`)).status).toBe(204);
      const lines = await call('GET', `/queryAll?q=${encodeURIComponent(`SELECT Id, IsDeleted FROM OpportunityLineItem WHERE OpportunityId = '${deal.opportunityId}'`)}`);
      expect((lines.body as { records: Json[] }).records.map((r) => r.IsDeleted)).toEqual([true, true]);
      expect((await call('GET', q('SELECT Id FROM OpportunityLineItem'))).body).toMatchObject({ totalSize: 0 });
      emu.undelete('Opportunity', deal.opportunityId);
      expect(emu.records('OpportunityLineItem').map((r) => r.Id)).toEqual([(added.body as Json).id]);
    });

    it('upserts by external id: 201 created, then 200 updated, never a duplicate; DUPLICATE_VALUE and MULTIPLE_CHOICES', async () => {
      const acct = emu.insert('Account', { Name: 'Renewals' });
      const body = { Name: 'Renewal 2027', StageName: 'Prospecting', CloseDate: '2027-01-31', AccountId: acct, Amount: 1000 };
      const first = await call('PATCH', '/sobjects/Opportunity/Ehub_Renewal_Key__c/ehub-renewal:o1:2027-01-31', body);
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ success: true, created: true, errors: [] });
      const second = await call('PATCH', '/sobjects/Opportunity/Ehub_Renewal_Key__c/ehub-renewal:o1:2027-01-31', { ...body, Amount: 1500 });
      expect(second.status).toBe(200);
      expect(second.body).toEqual({ id: (first.body as Json).id, success: true, errors: [], created: false });
      const opps = emu.records('Opportunity');
      expect(opps).toHaveLength(1);
      expect(opps[0]).toMatchObject({ Ehub_Renewal_Key__c: 'ehub-renewal:o1:2027-01-31', Amount: 1500 });

      const dup = await call('POST', '/sobjects/Opportunity', { ...body, Ehub_Renewal_Key__c: 'EHUB-RENEWAL:O1:2027-01-31' });
      expect(dup.status).toBe(400);
      expect(dup.body).toMatchObject([{ errorCode: 'DUPLICATE_VALUE' }]);

      const conn = new Connection({ instanceUrl: emu.url, accessToken: tok, version: '62.0' });
      const r = await conn.sobject('Opportunity').upsert({ ...body, Ehub_Renewal_Key__c: 'k2' }, 'Ehub_Renewal_Key__c');
      expect(r).toMatchObject({ success: true, created: true });

      emu.insert('Product2', { Name: 'A', ExternalId: 'same' });
      emu.insert('Product2', { Name: 'B', ExternalId: 'same' });
      const multi = await call('PATCH', '/sobjects/Product2/ExternalId/same', { Name: 'C' });
      expect(multi.status).toBe(300);
      expect(multi.body).toHaveLength(2);
      expect((await call('PATCH', '/sobjects/Account/Name/x', { Website: 'x.io' })).status).toBe(404);
    });
  });

  describe('sObject collections', () => {
    it('allOrNone=false writes the good records; allOrNone=true writes none; more than 200 is refused', async () => {
      const recs = [{ Name: 'One' }, { Website: 'no-name.io' }, { Name: 'Three' }].map((r) => ({ attributes: { type: 'Account' }, ...r }));
      const partial = await call('POST', '/composite/sobjects', { allOrNone: false, records: recs });
      expect(partial.status).toBe(200);
      const p = partial.body as Json[];
      expect(p.map((r) => r.success)).toEqual([true, false, true]);
      expect(p[1]).toMatchObject({ errors: [{ statusCode: 'REQUIRED_FIELD_MISSING', fields: ['Name'] }] });
      expect(emu.records('Account').map((r) => r.Name)).toEqual(['One', 'Three']);

      const atomic = await call('POST', '/composite/sobjects', { allOrNone: true, records: recs });
      const a = atomic.body as Json[];
      expect(a.map((r) => r.success)).toEqual([false, false, false]);
      expect(a[0]).toMatchObject({ errors: [{ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK' }] });
      expect(a[1]).toMatchObject({ errors: [{ statusCode: 'REQUIRED_FIELD_MISSING' }] });
      expect(emu.records('Account')).toHaveLength(2);

      // allOrNone update rolls back values and the opportunity roll-up together.
      const deal = emu.seedDeal({ accountName: 'Tx', lines: [{ productCode: 'T', quantity: 1, unitPrice: 10 }] });
      const before = emu.get('Opportunity', deal.opportunityId);
      const upd = await call('PATCH', '/composite/sobjects', {
        allOrNone: true,
        records: [
          { attributes: { type: 'OpportunityLineItem' }, id: deal.lineIds[0], Quantity: 9 },
          { attributes: { type: 'Account' }, id: deal.accountId, Name: null },
        ],
      });
      expect((upd.body as Json[]).map((r) => r.success)).toEqual([false, false]);
      expect(emu.get('OpportunityLineItem', deal.lineIds[0])?.Quantity).toBe(1);
      expect(emu.get('Opportunity', deal.opportunityId)).toEqual(before);

      const tooMany = Array.from({ length: 201 }, (_, i) => ({ attributes: { type: 'Account' }, Name: `N${i}` }));
      const big = await call('POST', '/composite/sobjects', { records: tooMany });
      expect(big.status).toBe(400);
      expect(big.body).toMatchObject([{ errorCode: 'EXCEEDED_ID_LIMIT' }]);
      expect(emu.records('Account')).toHaveLength(3);
    });

    it('updates, upserts and deletes through jsforce collections', async () => {
      const conn = new Connection({ instanceUrl: emu.url, accessToken: tok, version: '62.0' });
      const created = await conn.sobject('Account').create([{ Name: 'J1' }, { Name: 'J2' }]);
      const ids = created.map((r) => (r.success ? r.id : ''));
      const updated = await conn.sobject('Account').update(ids.map((Id) => ({ Id, Ehub_Churn_Risk__c: 'LOW' })));
      expect(updated.every((r) => r.success)).toBe(true);
      expect(emu.records('Account').map((r) => r.Ehub_Churn_Risk__c)).toEqual(['LOW', 'LOW']);
      const acct = ids[0];
      const ent = (key: string, sku: string) => ({ Ehub_Entitlement_Id__c: key, Name: `Ent ${sku}`, Account__c: acct, Sku__c: sku, Quantity__c: 10, Used__c: 2.5, Remaining__c: 7.5 });
      const up1 = await conn.sobject('Ehub_Entitlement__c').upsert([ent('e-1', 'A'), ent('e-2', 'B')], 'Ehub_Entitlement_Id__c');
      expect(up1.map((r) => r.created)).toEqual([true, true]);
      const up2 = await conn.sobject('Ehub_Entitlement__c').upsert([ent('e-1', 'A2'), ent('e-3', 'C')], 'Ehub_Entitlement_Id__c');
      expect(up2.map((r) => r.created)).toEqual([false, true]);
      expect(emu.records('Ehub_Entitlement__c').map((r) => r.Sku__c)).toEqual(['A2', 'B', 'C']);
      const del = await conn.sobject('Account').destroy([ids[1], '001000000000000AAA']);
      expect(del.map((r) => r.success)).toEqual([true, false]);
      expect(emu.records('Account')).toHaveLength(1);
    });
  });

  describe('Bulk API 2.0 ingest', () => {
    it('runs a 100-row update job end to end with successful and failed results', async () => {
      const ids = Array.from({ length: 100 }, (_, i) => emu.insert('Account', { Name: `Bulk ${i}`, Website: `b${i}.io`, Ehub_Churn_Risk__c: 'LOW' }));
      emu.faults.rejectRecord((sobject, fields) => (sobject === 'Account' && fields.Name === 'Bulk 13' ? { errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'ARR is locked' } : null));
      const rows = ids.map((Id, i) => ({ Id, Ehub_ARR__c: i * 10, Ehub_Entitlement_Status__c: i === 7 ? 'X'.repeat(41) : 'ACTIVE', Website: i === 5 ? null : undefined }));
      const conn = new Connection({ instanceUrl: emu.url, accessToken: tok, version: '62.0' });
      conn.bulk2.pollInterval = 20;
      const results = await conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'update', input: rows, pollInterval: 20, pollTimeout: 10_000 });
      expect(results.successfulResults).toHaveLength(98);
      expect(results.failedResults).toHaveLength(2);
      const errors = results.failedResults.map((r) => String(r.sf__Error)).sort();
      expect(errors[0]).toMatch(/^FIELD_CUSTOM_VALIDATION_EXCEPTION:ARR is locked:/);
      expect(errors[1]).toMatch(/^STRING_TOO_LONG:/);
      expect(results.unprocessedRecords).toHaveLength(0);
      expect(emu.get('Account', ids[42])).toMatchObject({ Ehub_ARR__c: 420, Ehub_Entitlement_Status__c: 'ACTIVE', Website: 'b42.io', Ehub_Churn_Risk__c: 'LOW' });
      expect(emu.get('Account', ids[5])?.Website).toBeNull(); // #N/A sets null; empty cells leave fields alone
      expect(emu.get('Account', ids[13])?.Ehub_ARR__c).toBeNull();
      expect(emu.stats.byEndpoint['PUT jobs/ingest/batches']).toBe(1);
    });

    it('follows the job states over raw HTTP: upsert, results CSV, Failed jobs and unknown columns', async () => {
      const create = await call('POST', '/jobs/ingest', { object: 'Opportunity', operation: 'upsert', externalIdFieldName: 'Ehub_Renewal_Key__c', contentType: 'CSV', lineEnding: 'LF' });
      const job = create.body as Json;
      expect(job).toMatchObject({ state: 'Open', object: 'Opportunity', operation: 'upsert', contentUrl: `services/data/v62.0/jobs/ingest/${String(job.id)}/batches`, apiVersion: 62 });
      expect(String(job.id)).toMatch(/^750\w{15}$/);
      const acct = emu.insert('Account', { Name: 'Bulk Upsert' });
      const csv = `Ehub_Renewal_Key__c,Name,StageName,CloseDate,AccountId\nk1,R1,Prospecting,2027-01-01,${acct}\nk2,R2,Prospecting,not-a-date,${acct}\nk1,R1b,Prospecting,2027-01-01,${acct}\n`;
      expect((await call('PUT', `/jobs/ingest/${String(job.id)}/batches`, csv, { 'content-type': 'text/csv' })).status).toBe(201);
      expect((await call('PATCH', `/jobs/ingest/${String(job.id)}`, { state: 'UploadComplete' })).body).toMatchObject({ state: 'UploadComplete' });
      let info: Json = {};
      for (let i = 0; i < 100; i++) {
        info = (await call('GET', `/jobs/ingest/${String(job.id)}`)).body as Json;
        if (info.state === 'JobComplete' || info.state === 'Failed') break;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(info).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 3, numberRecordsFailed: 1 });
      const ok = parse((await call('GET', `/jobs/ingest/${String(job.id)}/successfulResults`)).body as string, { columns: true }) as Json[];
      expect(ok.map((r) => [r.sf__Created, r.Name])).toEqual([
        ['true', 'R1'],
        ['false', 'R1b'],
      ]);
      const failedCsv = (await call('GET', `/jobs/ingest/${String(job.id)}/failedResults`)).body as string;
      expect(failedCsv.split('\n')[0]).toBe('"sf__Id","sf__Error","Ehub_Renewal_Key__c","Name","StageName","CloseDate","AccountId"');
      expect(failedCsv).toContain('INVALID_FIELD:Failed to deserialize field at col 4');
      expect(emu.records('Opportunity').map((r) => r.Name)).toEqual(['R1b']);

      const bad = (await call('POST', '/jobs/ingest', { object: 'Account', operation: 'insert' })).body as Json;
      await call('PUT', `/jobs/ingest/${String(bad.id)}/batches`, 'Name,Nope__c\nA,1\n', { 'content-type': 'text/csv' });
      await call('PATCH', `/jobs/ingest/${String(bad.id)}`, { state: 'UploadComplete' });
      await new Promise((r) => setTimeout(r, 60));
      expect((await call('GET', `/jobs/ingest/${String(bad.id)}`)).body).toMatchObject({ state: 'Failed', errorMessage: 'InvalidBatch : Field name not found : Nope__c' });
      expect((await call('GET', `/jobs/ingest/${String(bad.id)}/unprocessedrecords`)).body).toBe('"Name","Nope__c"\n"A","1"\n');
      expect((await call('DELETE', `/jobs/ingest/${String(bad.id)}`)).status).toBe(204);
      expect((await call('GET', `/jobs/ingest/${String(bad.id)}`)).status).toBe(404);
      expect(((await call('GET', '/jobs/ingest')).body as { records: Json[] }).records).toHaveLength(1);
    });
  });

  describe('faults, limits and stats', () => {
    it('expireSessions invalidates issued tokens; a new token works', async () => {
      expect((await call('GET', '/limits')).status).toBe(200);
      emu.faults.expireSessions();
      const r = await call('GET', '/limits');
      expect(r.status).toBe(401);
      expect(r.body).toEqual([{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
      tok = await login(emu);
      expect((await call('GET', '/limits')).status).toBe(200);
    });

    it('queue fails the next calls in order', async () => {
      emu.faults.queue('HTTP_503', 'REQUEST_LIMIT_EXCEEDED', 'HTTP_500', 'EXPIRE_SESSION');
      const statuses: Array<[number, unknown]> = [];
      for (let i = 0; i < 4; i++) {
        const r = await call('GET', '/limits');
        statuses.push([r.status, (r.body as Json[])[0]?.errorCode]);
      }
      expect(statuses).toEqual([
        [503, 'SERVER_UNAVAILABLE'],
        [403, 'REQUEST_LIMIT_EXCEEDED'],
        [500, 'UNKNOWN_EXCEPTION'],
        [401, 'INVALID_SESSION_ID'],
      ]);
      expect((await call('GET', '/limits')).status).toBe(401); // that session really ended
      tok = await login(emu);
      expect((await call('GET', '/limits')).status).toBe(200);
    });

    it('random faults repeat for the same seed and stop on clear()', async () => {
      const run = async (): Promise<number[]> => {
        const e = await start({ seed: 42 });
        const t = await login(e);
        e.faults.set({ rate: 0.5, kinds: ['HTTP_503', 'HTTP_500'] });
        const out: number[] = [];
        for (let i = 0; i < 12; i++) out.push((await fetch(`${e.url}${V}/limits`, { headers: { authorization: `Bearer ${t}` } })).status);
        e.faults.clear();
        out.push((await fetch(`${e.url}${V}/limits`, { headers: { authorization: `Bearer ${t}` } })).status);
        await e.close();
        return out;
      };
      const a = await run();
      expect(await run()).toEqual(a);
      expect(a.slice(0, 12)).toContain(503);
      expect(a.slice(0, 12)).toContain(200);
      expect(a[12]).toBe(200);
    });

    it('recordErrorRate fails records in collections; failBulkJobs fails the next bulk job', async () => {
      emu.faults.set({ recordErrorRate: 1, recordErrorCodes: ['UNABLE_TO_LOCK_ROW'], failBulkJobs: 1 });
      const r = await call('POST', '/composite/sobjects', { records: [{ attributes: { type: 'Account' }, Name: 'Locked' }] });
      expect(r.body).toMatchObject([{ success: false, errors: [{ statusCode: 'UNABLE_TO_LOCK_ROW' }] }]);
      expect((await call('POST', '/sobjects/Account', { Name: 'REST is not affected' })).status).toBe(201);
      const job = (await call('POST', '/jobs/ingest', { object: 'Account', operation: 'insert' })).body as Json;
      await call('PUT', `/jobs/ingest/${String(job.id)}/batches`, 'Name\nA\nB\n', { 'content-type': 'text/csv' });
      await call('PATCH', `/jobs/ingest/${String(job.id)}`, { state: 'UploadComplete' });
      await new Promise((res) => setTimeout(res, 60));
      expect((await call('GET', `/jobs/ingest/${String(job.id)}`)).body).toMatchObject({ state: 'Failed', numberRecordsProcessed: 0 });
      expect(((await call('GET', `/jobs/ingest/${String(job.id)}/unprocessedrecords`)).body as string).trim().split('\n')).toHaveLength(3);
    });

    it('rejectRecord applies to REST writes too', async () => {
      emu.faults.rejectRecord((sobject, f) => (sobject === 'Account' && f.Name === 'Blocked' ? { errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'Blocked by rule', fields: ['Name'] } : null));
      expect((await call('POST', '/sobjects/Account', { Name: 'Blocked' })).body).toEqual([{ errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'Blocked by rule', fields: ['Name'] }]);
      emu.faults.clear();
      expect((await call('POST', '/sobjects/Account', { Name: 'Blocked' })).status).toBe(201);
    });

    it('enforces the daily API limit', async () => {
      const e = await start({ dailyApiLimit: 3 });
      try {
        const t = await login(e); // call 1
        const get = () => fetch(`${e.url}${V}/limits`, { headers: { authorization: `Bearer ${t}` } });
        expect((await get()).status).toBe(200); // 2
        const third = await get(); // 3
        expect(third.status).toBe(200);
        expect(((await third.json()) as { DailyApiRequests: Json }).DailyApiRequests).toEqual({ Max: 3, Remaining: 0 });
        const fourth = await get();
        expect(fourth.status).toBe(403);
        expect(await fourth.json()).toEqual([{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
      } finally {
        await e.close();
      }
    });

    it('sends Sforce-Limit-Info on every data response and counts calls, not helper writes or the control surface', async () => {
      emu.resetStats();
      emu.insert('Account', { Name: 'Not counted' });
      const a = await call('GET', q('SELECT Id FROM Account'));
      const b = await call('GET', '/sobjects/Nope/describe');
      expect(a.headers.get('sforce-limit-info')).toBe('api-usage=2/1000000');
      expect(b.status).toBe(404);
      expect(b.headers.get('sforce-limit-info')).toBe('api-usage=3/1000000');
      const ctl = await fetch(`${emu.url}/__emulator/stats`);
      expect(await ctl.json()).toMatchObject({ apiCalls: 2, apiUsage: { used: 3, limit: 1_000_000 }, records: { Account: 1 } });
      await fetch(`${emu.url}/__emulator/faults`, { method: 'POST', body: JSON.stringify({ queue: ['HTTP_503'] }) });
      expect((await call('GET', '/limits')).status).toBe(503);
      const recs = (await (await fetch(`${emu.url}/__emulator/records/Account`)).json()) as { totalSize: number };
      expect(recs.totalSize).toBe(1);
      await login(emu);
      expect(emu.stats).toEqual({
        apiCalls: 4,
        tokenRequests: 1,
        byEndpoint: { 'GET query': 1, 'GET sobjects/{type}/describe': 1, 'GET limits': 1, 'POST oauth2/token': 1 },
      });
      expect(emu.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['GET 200', 'GET 404', 'GET 503', 'POST 200']);
    });
  });
});
