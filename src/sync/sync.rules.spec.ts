import type { ExternalOrder } from '../../connectors/types';
import { backoffMs } from '../common/backoff';
import { contentHash } from '../common/stable-json';
import { currencyExponent, domainOf, majorToMinor, minorToMajor, planOrder } from './sync.rules';

describe('money conversion', () => {
  it('converts major-unit decimals to minor units exactly, by the currency exponent', () => {
    expect(majorToMinor('1200.5', 'USD')).toBe('120050');
    expect(majorToMinor('1200.50', 'USD')).toBe('120050');
    expect(majorToMinor('0.1', 'USD')).toBe('10');
    expect(majorToMinor('12.500', 'USD')).toBe('1250');
    expect(majorToMinor('1500', 'JPY')).toBe('1500');
    expect(majorToMinor('1.234', 'BHD')).toBe('1234');
    expect(majorToMinor('99999999999999.99', 'USD')).toBe('9999999999999999');
    expect(majorToMinor('-3.25', 'EUR')).toBe('-325');
  });

  it('refuses sub-minor precision and non-numbers instead of rounding money', () => {
    expect(majorToMinor('1.005', 'USD')).toBeNull();
    expect(majorToMinor('1.5', 'JPY')).toBeNull();
    expect(majorToMinor('1e3', 'USD')).toBeNull();
    expect(majorToMinor('abc', 'USD')).toBeNull();
    expect(majorToMinor('', 'USD')).toBeNull();
  });

  it('formats minor units as major decimals and round-trips', () => {
    expect(minorToMajor('120050', 'USD')).toBe('1200.50');
    expect(minorToMajor('5', 'USD')).toBe('0.05');
    expect(minorToMajor(-5n, 'USD')).toBe('-0.05');
    expect(minorToMajor('1500', 'JPY')).toBe('1500');
    for (const v of ['0', '1', '99', '100', '123456789']) expect(majorToMinor(minorToMajor(v, 'EUR'), 'EUR')).toBe(v);
    expect(currencyExponent('KWD')).toBe(3);
  });
});

describe('domainOf', () => {
  it('takes the host of a CRM website', () => {
    expect(domainOf('https://www.Acme.com/about?x=1')).toBe('acme.com');
    expect(domainOf('acme.co.uk')).toBe('acme.co.uk');
    expect(domainOf('http://shop.acme.io:8080')).toBe('shop.acme.io');
  });
  it('returns null for what is no host name', () => {
    for (const w of [null, '', 'n/a', 'localhost', 'http://', 'acme', '192.168.1.1']) expect(domainOf(w)).toBeNull();
  });
});

describe('backoffMs', () => {
  it('doubles per attempt within [half, whole] of the ceiling, capped', () => {
    expect(backoffMs(1, 1000, 60_000, () => 0)).toBe(500);
    expect(backoffMs(1, 1000, 60_000, () => 1)).toBe(1000);
    expect(backoffMs(3, 1000, 60_000, () => 0)).toBe(2000);
    expect(backoffMs(3, 1000, 60_000, () => 1)).toBe(4000);
    expect(backoffMs(30, 1000, 60_000, () => 1)).toBe(60_000);
    expect(backoffMs(30, 1000, 60_000, () => 0)).toBe(30_000);
  });
});

describe('planOrder', () => {
  const deal = (lines: Partial<ExternalOrder['lines'][number]>[], extra: Partial<ExternalOrder> = {}): ExternalOrder => ({
    externalId: '006A',
    accountExternalId: '001A',
    name: 'Deal',
    orderDate: '2027-01-15',
    currency: 'USD',
    won: true,
    deleted: false,
    modifiedAt: '2027-01-15T10:00:00.000Z',
    lines: lines.map((l, i) => ({ externalLineId: `00k${i}`, sku: 'SKU', quantity: '2', unitPrice: '10.5', startDate: null, endDate: null, modifiedAt: '2027-01-15T10:00:00.000Z', ...l })),
    ...extra,
  });

  it('numbers lines stably by source line id and keeps numbers of lines seen before', () => {
    const first = planOrder(deal([{ externalLineId: '00kB' }, { externalLineId: '00kA' }]), { defaultCurrency: 'USD', lineNumbers: {}, nextLineNo: 1 });
    if ('problems' in first) throw new Error('unexpected problems');
    expect(first.lineNumbers).toEqual({ '00kA': 1, '00kB': 2 });
    expect(first.order.lines.map((l) => [l.lineNo, l.unitPrice, l.startDate])).toEqual([
      [1, '1050', '2027-01-15'],
      [2, '1050', '2027-01-15'],
    ]);
    // 00kA removed, 00kC added: 00kB keeps 2, 00kC gets 3 (1 is never reused).
    const next = planOrder(deal([{ externalLineId: '00kB' }, { externalLineId: '00kC' }]), { defaultCurrency: 'USD', lineNumbers: first.lineNumbers, nextLineNo: first.nextLineNo });
    if ('problems' in next) throw new Error('unexpected problems');
    expect(next.order.lines.map((l) => [l.externalLineId, l.lineNo])).toEqual([
      ['00kB', 2],
      ['00kC', 3],
    ]);
    expect(next.nextLineNo).toBe(4);
  });

  it('lists every problem of a deal that cannot become an order', () => {
    const r = planOrder(deal([{ sku: null }, { unitPrice: '1.005' }, { quantity: '0' }, { startDate: '2027-02-01', endDate: '2027-01-31' }], { accountExternalId: null }), {
      defaultCurrency: 'USD',
      lineNumbers: {},
      nextLineNo: 1,
    });
    expect('problems' in r && r.problems.map((p) => p.code)).toEqual(['NO_ACCOUNT', 'MISSING_SKU', 'INVALID_AMOUNT', 'INVALID_QUANTITY', 'INVALID_DATES']);
    const empty = planOrder(deal([]), { defaultCurrency: 'USD', lineNumbers: {}, nextLineNo: 1 });
    expect('problems' in empty && empty.problems.map((p) => p.code)).toEqual(['NO_LINES']);
  });

  it('gives equal content an equal hash whatever the line order', () => {
    const a = planOrder(deal([{ externalLineId: '00k1' }, { externalLineId: '00k2', quantity: '3' }]), { defaultCurrency: 'USD', lineNumbers: {}, nextLineNo: 1 });
    const b = planOrder(deal([{ externalLineId: '00k2', quantity: '3' }, { externalLineId: '00k1' }]), { defaultCurrency: 'USD', lineNumbers: {}, nextLineNo: 1 });
    if ('problems' in a || 'problems' in b) throw new Error('unexpected problems');
    expect(contentHash(a.order)).toBe(contentHash(b.order));
    const c = planOrder(deal([{ externalLineId: '00k1' }, { externalLineId: '00k2', quantity: '4' }]), { defaultCurrency: 'USD', lineNumbers: {}, nextLineNo: 1 });
    if ('problems' in c) throw new Error('unexpected problems');
    expect(contentHash(c.order)).not.toBe(contentHash(a.order));
  });
});
