import { generateKeyPairSync, verify } from 'node:crypto';
import { connectorFactories } from '../index';
import { ConnectorError } from '../types';
import { signJwtAssertion } from './auth';
import { classifyError, isRetryableRecordError } from './errors';
import { parseConfig } from './options';
import { parseLimitInfo } from './http-errors';
import {
  afterCursorClause,
  decodeCursor,
  encodeCursor,
  id18,
  normalizeDecimal,
  parseJsonKeepingDecimals,
  soqlString,
  toIsoInstant,
  websiteDomain,
} from './values';
import { salesforceConnector } from './index';
import { planWrites } from './writes';

describe('salesforce values', () => {
  it('derives a bare lowercase domain from Website', () => {
    expect(websiteDomain('https://www.Acme.com/about?x=1')).toBe('acme.com');
    expect(websiteDomain('http://user:pw@shop.acme.co.uk:8080/')).toBe('shop.acme.co.uk');
    expect(websiteDomain('WWW.EXAMPLE.ORG')).toBe('example.org');
    expect(websiteDomain('acme.io/')).toBe('acme.io');
    expect(websiteDomain('  ')).toBeNull();
    expect(websiteDomain('n/a')).toBeNull();
    expect(websiteDomain(null)).toBeNull();
  });

  it('keeps decimal fields as the exact text Salesforce sent', () => {
    const parsed = parseJsonKeepingDecimals('{"records":[{"Quantity":10.0,"UnitPrice":1200.50,"Amount":12345678901234.56,"Other":1.50}]}') as {
      records: Record<string, unknown>[];
    };
    expect(parsed.records[0]).toEqual({ Quantity: '10.0', UnitPrice: '1200.50', Amount: '12345678901234.56', Other: 1.5 });
    expect(normalizeDecimal('1.2E+3')).toBe('1200');
    expect(normalizeDecimal('-5e-2')).toBe('-0.05');
    expect(normalizeDecimal('1200.5')).toBe('1200.5');
  });

  it('round-trips cursors and refuses foreign ones', () => {
    const c = encodeCursor({ ts: '2024-03-01T10:00:00.000Z', id: '001000000000001AAA' });
    expect(decodeCursor(c)).toEqual({ ts: '2024-03-01T10:00:00.000Z', id: '001000000000001AAA' });
    expect(decodeCursor(null)).toBeNull();
    expect(() => decodeCursor('{"ts":"x","id":"y"}')).toThrow(ConnectorError);
    expect(() => decodeCursor('garbage')).toThrow(/pull cursor/);
    expect(afterCursorClause({ ts: '2024-03-01T10:00:00.000Z', id: "001'x" })).toBe(
      " WHERE SystemModstamp > 2024-03-01T10:00:00.000Z OR (SystemModstamp = 2024-03-01T10:00:00.000Z AND Id > '001\\'x')",
    );
    expect(soqlString("a\\b'c")).toBe("'a\\\\b\\'c'");
  });

  it('reads Salesforce datetimes and 15-character ids', () => {
    expect(toIsoInstant('2024-03-01T10:00:00.000+0000')).toBe('2024-03-01T10:00:00.000Z');
    expect(toIsoInstant('2024-03-01T12:00:00.000+0200')).toBe('2024-03-01T10:00:00.000Z');
    expect(id18('001A0000006Vm9r')).toBe('001A0000006Vm9rIAC');
    expect(id18('001A0000006Vm9rIAC')).toBe('001A0000006Vm9rIAC');
  });

  it('parses the api-usage part of Sforce-Limit-Info only', () => {
    expect(parseLimitInfo('api-usage=25/15000')).toEqual({ used: 25, limit: 15000 });
    expect(parseLimitInfo('per-app-api-usage=3/250(appName=x), api-usage=40/100')).toEqual({ used: 40, limit: 100 });
    expect(parseLimitInfo('per-app-api-usage=3/250(appName=x)')).toBeNull();
    expect(parseLimitInfo(undefined)).toBeNull();
  });
});

describe('salesforce errors', () => {
  it('decides per-record retryability', () => {
    for (const c of ['UNABLE_TO_LOCK_ROW', 'DUPLICATE_VALUE', 'SERVER_UNAVAILABLE']) expect(isRetryableRecordError(c, '')).toBe(true);
    for (const c of ['INVALID_FIELD', 'MALFORMED_ID', 'ENTITY_IS_DELETED', 'INVALID_CROSS_REFERENCE_KEY', 'FIELD_CUSTOM_VALIDATION_EXCEPTION', 'STRING_TOO_LONG', 'REQUIRED_FIELD_MISSING']) {
      expect(isRetryableRecordError(c, '')).toBe(false);
    }
    expect(isRetryableRecordError('CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY', 'trigger: UNABLE_TO_LOCK_ROW')).toBe(true);
  });

  it('classifies whole-call failures', () => {
    const oauth = Object.assign(new Error('authentication failure'), { name: 'invalid_grant' });
    expect(classifyError(oauth).kind).toBe('AUTH');
    const text = Object.assign(new Error('[{"errorCode":"INVALID_FIELD","message":"No such column"}]'), { errorCode: 'ERROR_HTTP_400' });
    expect(classifyError(text)).toMatchObject({ kind: 'INVALID', code: 'INVALID_FIELD' });
    const refresh = new Error('Unable to refresh session due to: boom');
    const underlying = new ConnectorError('UNAVAILABLE', 'HTTP_503', 'down');
    expect(classifyError(refresh, underlying)).toBe(underlying);
    expect(classifyError(refresh).kind).toBe('AUTH');
  });
});

describe('salesforce options', () => {
  it('is registered as the salesforce connector', () => {
    expect(connectorFactories.salesforce).toBe(salesforceConnector);
    expect(salesforceConnector).toMatchObject({
      type: 'salesforce',
      pulls: ['accounts', 'contacts', 'orders'],
      pushes: ['account-fields', 'renewal-opportunity', 'trueup-opportunity', 'entitlement', 'support-entitlement'],
    });
    expect(() => salesforceConnector.create({ options: {}, credentials: {} })).toThrow(ConnectorError);
  });

  const base = { options: { auth: 'password', clientId: 'cid', username: 'u@x.com' }, credentials: { clientSecret: 's', password: 'p' } };

  it('applies the documented defaults', () => {
    const { problems, parsed } = parseConfig(base);
    expect(problems).toEqual([]);
    expect(parsed?.options).toMatchObject({
      loginUrl: 'https://login.salesforce.com',
      apiVersion: '62.0',
      defaultCurrency: 'USD',
      multiCurrency: false,
      lineEndDateField: 'Ehub_End_Date__c',
      bulkThreshold: 2000,
      pageSize: 2000,
      maxApiUsagePercent: 90,
      rateLimitBackoffMs: 900_000,
      requestTimeoutMs: 60_000,
      bulkPollIntervalMs: 1000,
      renewal: { externalIdField: 'Ehub_Renewal_Key__c', stageName: 'Prospecting', type: null },
      entitlementObject: { name: 'Ehub_Entitlement__c', externalIdField: 'Ehub_Entitlement_Id__c' },
      jwtAudience: 'https://login.salesforce.com',
    });
    expect(parsed?.options.accountFields.arr).toBe('Ehub_ARR__c');
    expect(parsed?.options.accountFields.syncedAt).toBe('Ehub_Synced_At__c');
  });

  it('reports problems by path', () => {
    const { problems } = parseConfig({
      options: { auth: 'jwt_bearer', clientId: 'cid', pageSize: 50, accountFields: { arr: 'bad name', nope: 'X__c' }, typo: 1 },
      credentials: { privateKey: 'not a key' },
    });
    const paths = problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['options.pageSize', 'options.accountFields.arr', 'options.accountFields', 'options']));
    const second = parseConfig({ options: { auth: 'jwt_bearer', clientId: 'cid' }, credentials: { privateKey: 'not a key' } }).problems;
    expect(second.map((p) => p.path)).toEqual(expect.arrayContaining(['options.username', 'credentials.privateKey']));
    expect(parseConfig({ options: { auth: 'password', clientId: 'c', username: 'u' }, credentials: {} }).problems.map((p) => p.path)).toEqual([
      'credentials.clientSecret',
      'credentials.password',
    ]);
    expect(parseConfig({ options: { auth: 'client_credentials', clientId: 'c' }, credentials: { clientSecret: 's' } }).problems).toEqual([
      { path: 'options.loginUrl', message: expect.stringContaining('My Domain') },
    ]);
    expect(parseConfig({ options: { auth: 'client_credentials', clientId: 'c', loginUrl: 'https://acme.my.salesforce.com' }, credentials: { clientSecret: 's' } }).problems).toEqual([]);
  });

  it('maps account fields, disables null ones and refuses bad items before sending', () => {
    const { parsed } = parseConfig({ ...base, options: { ...base.options, accountFields: { healthScore: null, churnRisk: 'Risk__c' } } });
    const plan = planWrites(parsed!.options, {
      object: 'account-fields',
      items: [
        { key: 'a', payload: { accountExternalId: '001000000000001AAA', arr: '10.50', healthScore: 80, churnRisk: 'LOW', overuse: null } },
        { key: 'b', payload: { accountExternalId: 'not-an-id', arr: '1' } },
        { key: 'c', payload: { accountExternalId: '001000000000002AAA', arr: '1', currency: 'EUR' } },
        { key: 'd', payload: { accountExternalId: '001000000000001aaa', activeUsers: 3 } },
      ],
    });
    expect(plan.refused.map((r) => [r.key, r.errorCode, r.retryable])).toEqual([
      ['b', 'MALFORMED_ID', false],
      ['c', 'CURRENCY_MISMATCH', false],
    ]);
    // items for the same account (ids compared as 18-character, case-insensitively) merge
    expect(plan.writes).toHaveLength(1);
    expect(plan.writes[0].itemKeys).toEqual(['a', 'd']);
    const rec = plan.writes[0].record;
    expect(Object.keys(rec).sort()).toEqual(['Ehub_ARR__c', 'Ehub_Active_Users__c', 'Ehub_Overuse__c', 'Risk__c']);
    expect(rec.Ehub_Overuse__c).toBe(false);
  });

  it('plans true-ups as Opportunity upserts by the true-up key, stage and close date on create only; trueup: null refuses them', () => {
    const payload = {
      trueupKey: 'ehub-trueup:f1',
      accountExternalId: '001000000000001AAA',
      findingId: 'f1',
      kind: 'OVERUSE',
      name: 'True-up: Acme – Overuse of seats (2026-11)',
      amount: '1200.50',
      currency: 'USD',
      closeDate: '2026-12-31',
      description: 'Kind: OVERUSE',
    };
    const { parsed } = parseConfig({ ...base, options: { ...base.options, trueup: { type: 'Existing Customer - Upgrade', minLeakage: 500 } } });
    expect(parsed!.options.trueup).toEqual({ externalIdField: 'Ehub_Trueup_Key__c', stageName: 'Prospecting', type: 'Existing Customer - Upgrade', preserveStage: true, minLeakage: 500 });
    const plan = planWrites(parsed!.options, { object: 'trueup-opportunity', items: [{ key: 'k', payload }, { key: 'eur', payload: { ...payload, trueupKey: 'ehub-trueup:f2', currency: 'EUR' } }] });
    expect({ sobject: plan.sobject, operation: plan.operation, keyField: plan.keyField, createOnly: plan.createOnlyFields }).toEqual({
      sobject: 'Opportunity',
      operation: 'upsert',
      keyField: 'Ehub_Trueup_Key__c',
      createOnly: ['StageName', 'CloseDate', 'Type'],
    });
    expect(plan.refused.map((r) => [r.key, r.errorCode])).toEqual([['eur', 'CURRENCY_MISMATCH']]);
    expect(plan.writes.map((w) => [w.key, Object.keys(w.record).sort()])).toEqual([
      ['ehub-trueup:f1', ['AccountId', 'Amount', 'CloseDate', 'Description', 'Name', 'StageName', 'Type']],
    ]);
    const off = parseConfig({ ...base, options: { ...base.options, trueup: null } }).parsed!.options;
    expect(planWrites(off, { object: 'trueup-opportunity', items: [{ key: 'k', payload }] }).refused.map((r) => [r.key, r.errorCode, r.retryable])).toEqual([
      ['k', 'TRUEUP_DISABLED', false],
    ]);
    expect(parseConfig({ ...base, options: { ...base.options, trueup: { minLeakage: -1 } } }).problems.map((p) => p.path)).toEqual(['options.trueup.minLeakage']);
  });
});

describe('salesforce JWT assertion', () => {
  it('is an RS256 JWT with iss/sub/aud/exp that verifies with the public key', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const now = new Date('2024-05-01T00:00:00Z');
    const jwt = signJwtAssertion({ clientId: 'cid', username: 'u@x.com', audience: 'https://login.salesforce.com', privateKeyPem: pem, now });
    const [h, c, s] = jwt.split('.');
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT' });
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString());
    expect(claims).toMatchObject({ iss: 'cid', sub: 'u@x.com', aud: 'https://login.salesforce.com', exp: now.getTime() / 1000 + 180 });
    expect(verify('RSA-SHA256', Buffer.from(`${h}.${c}`), publicKey, Buffer.from(s, 'base64url'))).toBe(true);
  });
});
