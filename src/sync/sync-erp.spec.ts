import { planReceivable } from './sync-erp';

describe('planReceivable (the engine\'s check of a pulled document)', () => {
  const doc = { kind: 'INVOICE' as const, externalId: 'I1', accountExternalId: 'C1', number: 'INV-1', date: '2026-01-31', dueDate: '2026-03-02', currency: 'JPY', amount: '1200', openAmount: '200', status: 'Open', modifiedAt: '2026-02-01T10:00:00Z', deleted: false };

  it('converts amounts to minor units of the currency', () => {
    expect(planReceivable(doc, 'USD')).toMatchObject({ amountMinor: '1200', openMinor: '200', currency: 'JPY' });
    expect(planReceivable({ ...doc, currency: null, amount: '12.5', openAmount: '0' }, 'EUR')).toMatchObject({ amountMinor: '1250', openMinor: '0', currency: 'EUR' });
  });

  it('reports every malformed value with a code', () => {
    const codes = (r: ReturnType<typeof planReceivable>) => (Array.isArray(r) ? r.map((p) => p.code) : []);
    expect(codes(planReceivable({ ...doc, kind: 'REFUND' as never, date: '2026-02-30', amount: '1.5' }, 'USD'))).toEqual(['INVALID_KIND', 'INVALID_DATE', 'INVALID_AMOUNT']);
    expect(codes(planReceivable({ ...doc, openAmount: '1300' }, 'USD'))).toEqual(['OPEN_EXCEEDS_AMOUNT']);
    expect(codes(planReceivable({ ...doc, currency: 'dollars', modifiedAt: 'yesterday' }, 'USD'))).toEqual(['INVALID_CURRENCY', 'INVALID_TIMESTAMP']);
    expect(codes(planReceivable({ ...doc, amount: '-5' }, 'USD'))).toEqual(['INVALID_AMOUNT']);
  });
});
