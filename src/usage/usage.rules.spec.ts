import { Readable } from 'node:stream';
import { readUsageNdjson } from './usage.ndjson';
import { canonicalJson, chooseEntitlement, isRejection, meterFigures, normalizeDecimal, parseInstant, parseUsageEvent, retentionCutoff, type UsageEventDraft } from './usage.rules';

const limits = { now: Date.parse('2027-03-01T12:00:00Z'), maxSkewSeconds: 300, maxPropertiesBytes: 100 };
const base = { id: 'e1', accountId: '6f1c3d52-8a3b-4e55-9d0e-0d7b2a1c9f00', meter: 'api.calls', quantity: 1, occurredAt: '2027-03-01T11:00:00Z', deployment: 'CLOUD' };

describe('normalizeDecimal', () => {
  it.each([
    [1, '1'],
    [0, '0'],
    [-0, '0'],
    [1.5, '1.5'],
    ['1.50', '1.5'],
    ['001.0', '1'],
    ['-0.000', '0'],
    ['.5', '0.5'],
    ['5.', '5'],
    [1e21, '1000000000000000000000'],
    [1e-7, '0.0000001'],
    ['1.2345e2', '123.45'],
    ['-12E-3', '-0.012'],
    ['12345678901234567890.123456789', '12345678901234567890.123456789'],
    [100, '100'],
    ['1e3', '1000'],
  ])('%p → %p', (input, out) => expect(normalizeDecimal(input)).toBe(out));

  it.each([[NaN], [Infinity], ['NaN'], ['Infinity'], ['1,5'], [''], ['.'], ['1e999'], [null], [true], [{}], ['0x10']])('%p is not a decimal', (input) =>
    expect(normalizeDecimal(input)).toBeNull(),
  );
});

describe('canonicalJson', () => {
  it('sorts keys at every level, keeps arrays in order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}');
  });
});

describe('parseInstant', () => {
  it('takes ISO instants with an offset, refuses the rest', () => {
    expect(parseInstant('2027-03-01T12:00:00Z')).toBe(Date.parse('2027-03-01T12:00:00Z'));
    expect(parseInstant('2027-03-01T13:00:00.123456+01:00')).toBe(Date.parse('2027-03-01T12:00:00.123Z'));
    expect(parseInstant('2027-03-01T12:00Z')).not.toBeNull();
    for (const bad of ['2027-03-01', '2027-03-01T12:00:00', '2027-02-30T00:00:00Z', '2027-03-01T24:00:00Z', 'yesterday', '2027-3-1T00:00:00Z']) {
      expect(parseInstant(bad)).toBeNull();
    }
  });
});

describe('parseUsageEvent', () => {
  it('normalises a good event and hashes its content', () => {
    const a = parseUsageEvent(base, 0, limits) as UsageEventDraft;
    expect(isRejection(a)).toBe(false);
    expect(a).toMatchObject({ source: 'default', quantity: '1', occurredAt: '2027-03-01T11:00:00.000Z', user: null, properties: null });
    // The same content written differently hashes the same; different content does not.
    const b = parseUsageEvent({ ...base, quantity: '1.000', occurredAt: '2027-03-01T12:00:00+01:00' }, 1, limits) as UsageEventDraft;
    expect(b.hash).toBe(a.hash);
    const c = parseUsageEvent({ ...base, properties: { b: 1, a: 2 } }, 2, limits) as UsageEventDraft;
    const d = parseUsageEvent({ ...base, properties: { a: 2, b: 1 } }, 3, limits) as UsageEventDraft;
    expect(c.hash).toBe(d.hash);
    expect(c.hash).not.toBe(a.hash);
    expect((parseUsageEvent({ ...base, quantity: 2 }, 4, limits) as UsageEventDraft).hash).not.toBe(a.hash);
  });

  it.each([
    ['not an object', [], 'INVALID_EVENT'],
    ['empty id', { ...base, id: '' }, 'INVALID_EVENT'],
    ['numeric id', { ...base, id: 7 }, 'INVALID_EVENT'],
    ['no account', { ...base, accountId: undefined }, 'INVALID_EVENT'],
    ['both accountId and accountRef', { ...base, accountRef: { system: 'sf', object: 'Account', externalId: 'x' } }, 'INVALID_EVENT'],
    ['no meter', { ...base, meter: undefined }, 'INVALID_EVENT'],
    ['no quantity', { ...base, quantity: undefined }, 'INVALID_EVENT'],
    ['quantity not a number', { ...base, quantity: 'lots' }, 'INVALID_QUANTITY'],
    ['infinite quantity', { ...base, quantity: 'Infinity' }, 'INVALID_QUANTITY'],
    ['a date without a time', { ...base, occurredAt: '2027-03-01' }, 'INVALID_EVENT'],
    ['six minutes ahead', { ...base, occurredAt: '2027-03-01T12:06:00Z' }, 'FUTURE_TIMESTAMP'],
    ['unknown deployment', { ...base, deployment: 'MARS' }, 'INVALID_EVENT'],
    ['empty user', { ...base, user: '' }, 'INVALID_EVENT'],
    ['properties not an object', { ...base, properties: [1] }, 'INVALID_EVENT'],
    ['properties too large', { ...base, properties: { blob: 'x'.repeat(200) } }, 'PROPERTIES_TOO_LARGE'],
    ['NUL in the id', { ...base, id: 'a\u0000b' }, 'INVALID_EVENT'],
    ['lone surrogate in the user', { ...base, user: 'x\ud800' }, 'INVALID_EVENT'],
    ['NUL in a property key', { ...base, properties: { 'a\u0000': 1 } }, 'INVALID_EVENT'],
    ['lone surrogate deep in properties', { ...base, properties: { a: [{ b: '\udc00' }] } }, 'INVALID_EVENT'],
    ['NUL in the meter key', { ...base, meter: 'm\u0000' }, 'INVALID_EVENT'],
  ])('%s', (_label, raw, code) => {
    const r = parseUsageEvent(raw, 0, limits);
    expect(isRejection(r) && r.code).toBe(code);
  });

  it('accepts a little clock skew and old events', () => {
    expect(isRejection(parseUsageEvent({ ...base, occurredAt: '2027-03-01T12:04:59Z' }, 0, limits))).toBe(false);
    expect(isRejection(parseUsageEvent({ ...base, occurredAt: '2020-01-01T00:00:00Z' }, 0, limits))).toBe(false);
  });
});

describe('meterFigures', () => {
  const draft = (extra: Record<string, unknown>) => parseUsageEvent({ ...base, ...extra }, 0, limits) as UsageEventDraft;
  it('takes the value property for SUM/MAX/LATEST, the quantity otherwise', () => {
    expect(meterFigures({ key: 'gb', aggregation: 'MAX', valueProperty: 'gb' }, draft({ properties: { gb: '2.50' } }))).toEqual({ value: '2.5', uniqueValue: null });
    expect(meterFigures({ key: 'c', aggregation: 'COUNT', valueProperty: 'gb' }, draft({ quantity: 3 }))).toEqual({ value: '3', uniqueValue: null });
    expect(meterFigures({ key: 'gb', aggregation: 'SUM', valueProperty: 'gb' }, draft({}))).toMatchObject({ code: 'INVALID_QUANTITY' });
  });
  it('counts distinct property values, else users, for UNIQUE_COUNT', () => {
    const m = { key: 'u', aggregation: 'UNIQUE_COUNT' as const, valueProperty: 'project' };
    expect(meterFigures(m, draft({ properties: { project: 42 } }))).toEqual({ value: '1', uniqueValue: '42' });
    expect(meterFigures(m, draft({ user: 'ann@x.io' }))).toEqual({ value: '1', uniqueValue: 'ann@x.io' });
    expect(meterFigures(m, draft({}))).toMatchObject({ code: 'INVALID_EVENT' });
  });
  it('allows negative figures for SUM only', () => {
    expect(meterFigures({ key: 's', aggregation: 'SUM', valueProperty: null }, draft({ quantity: -2 }))).toEqual({ value: '-2', uniqueValue: null });
    for (const aggregation of ['COUNT', 'MAX', 'LATEST', 'UNIQUE_COUNT'] as const) {
      expect(meterFigures({ key: 's', aggregation, valueProperty: 'p' }, draft({ quantity: -2, user: 'u', properties: { p: 1 } }))).toMatchObject({ code: 'INVALID_QUANTITY' });
    }
  });
});

describe('readUsageNdjson', () => {
  const opts = { maxEvents: 3, maxBytes: 10_000, maxLineBytes: 300, parse: limits };
  const chunks = (...parts: string[]) => Readable.from(parts.map((p) => Buffer.from(p)));
  const line = (id: string) => JSON.stringify({ ...base, id });

  it('splits lines across chunks, skips blank lines but keeps their numbers, rejects bad lines alone', async () => {
    const body = `${line('a')}\r\n\n{not json}\n${line('b')}`;
    const out = await readUsageNdjson(chunks(body.slice(0, 7), body.slice(7, 40), body.slice(40)), opts);
    expect(out.kind).toBe('ok');
    if (out.kind !== 'ok') return;
    expect(out.events.map((e) => [e.index, 'code' in e ? e.code : e.id])).toEqual([
      [0, 'a'],
      [2, 'INVALID_EVENT'],
      [3, 'b'],
    ]);
  });

  it('rejects an over-long line without parsing it, and refuses too many lines or bytes', async () => {
    const out = await readUsageNdjson(chunks(`${'x'.repeat(200)}`, `${'y'.repeat(200)}\n${line('a')}\n`), opts);
    expect(out.kind === 'ok' && out.events.map((e) => ('code' in e ? e.message : e.id))).toEqual(['the line is longer than 300 bytes', 'a']);
    expect((await readUsageNdjson(chunks([1, 2, 3, 4].map((i) => line(`e${i}`)).join('\n')), opts)).kind).toBe('too-many-events');
    expect((await readUsageNdjson(chunks('x'.repeat(6000), 'y'.repeat(6000)), opts)).kind).toBe('too-large');
  });
});

describe('EHUB_USAGE_RETENTION_MONTHS', () => {
  it('cuts off at the first day (UTC) of the month that many months back', () => {
    expect(retentionCutoff(0, limits.now)).toBeNull();
    expect(retentionCutoff(undefined, limits.now)).toBeNull();
    expect(retentionCutoff(3, limits.now)!.toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(retentionCutoff(12, Date.parse('2027-01-31T23:59:59Z'))!.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('refuses events before the cutoff as BEYOND_RETENTION, takes the first instant of the window', () => {
    const kept = { ...limits, retentionMonths: 3 };
    const old = parseUsageEvent({ ...base, occurredAt: '2026-11-30T23:59:59.999Z' }, 0, kept);
    expect(isRejection(old) && old.code).toBe('BEYOND_RETENTION');
    expect(isRejection(parseUsageEvent({ ...base, occurredAt: '2026-12-01T00:00:00Z' }, 0, kept))).toBe(false);
    // Off (0): any age.
    expect(isRejection(parseUsageEvent({ ...base, occurredAt: '2001-01-01T00:00:00Z' }, 0, { ...limits, retentionMonths: 0 }))).toBe(false);
  });
});

describe('chooseEntitlement', () => {
  const c = (id: string, start: number, termEnd: number | null, useEnd: number | null = termEnd, suspended = false) => ({ id, start, termEnd, useEnd, suspended });

  it('takes only an entitlement whose use covers the instant: start included, end of use excluded', () => {
    const e = c('00000000-0000-0000-0000-00000000000a', 100, 200, 250);
    expect(chooseEntitlement([e], 99)).toBeNull();
    expect(chooseEntitlement([e], 100)).toBe(e.id);
    expect(chooseEntitlement([e], 249)).toBe(e.id);
    expect(chooseEntitlement([e], 250)).toBeNull();
    expect(chooseEntitlement([], 150)).toBeNull();
    expect(chooseEntitlement(undefined, 150)).toBeNull();
    expect(chooseEntitlement([c('00000000-0000-0000-0000-00000000000b', 100, null)], 10 ** 15)).toBe('00000000-0000-0000-0000-00000000000b');
  });

  it('prefers in term over in grace, then not suspended, then soonest-ending, then earliest start, then lowest id', () => {
    const ids = ['1', '2', '3', '4', '5'].map((d) => `00000000-0000-0000-0000-00000000000${d}`);
    // In grace (term ended at 150) vs in term (ends later): the one in term.
    expect(chooseEntitlement([c(ids[0]!, 0, 150, 400), c(ids[1]!, 0, 300)], 200)).toBe(ids[1]);
    // In term and suspended vs in grace and not: in term first.
    expect(chooseEntitlement([c(ids[0]!, 0, 150, 400), c(ids[1]!, 0, 300, 300, true)], 200)).toBe(ids[1]);
    // Both in term: not suspended first, even if it ends later.
    expect(chooseEntitlement([c(ids[0]!, 0, 250, 250, true), c(ids[1]!, 0, 300)], 200)).toBe(ids[1]);
    // Soonest-ending; no end comes last.
    expect(chooseEntitlement([c(ids[0]!, 0, null), c(ids[1]!, 0, 300), c(ids[2]!, 0, 260)], 200)).toBe(ids[2]);
    // Same end: earliest start; same start too: lowest id, whatever the order given.
    expect(chooseEntitlement([c(ids[3]!, 50, 300), c(ids[4]!, 10, 300)], 200)).toBe(ids[4]);
    expect(chooseEntitlement([c(ids[4]!, 10, 300), c(ids[3]!, 10, 300)], 200)).toBe(ids[3]);
    expect(chooseEntitlement([c(ids[3]!, 10, 300), c(ids[4]!, 10, 300)], 200)).toBe(ids[3]);
  });
});
