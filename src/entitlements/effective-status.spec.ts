import { effectivePhase, effectiveStatus } from './effective-status';
import { EntitlementStatus } from './entitlement.enums';

const d = (s: string) => new Date(s);
const base = {
  status: EntitlementStatus.ACTIVE,
  startsAt: d('2027-01-01T00:00:00Z'),
  endsAt: d('2028-01-01T00:00:00Z'),
  graceEndsAt: d('2028-01-15T00:00:00Z'),
  endedReason: null,
};

describe('effectivePhase', () => {
  it('walks a term: not started, active, in grace, expired', () => {
    expect(effectivePhase(base, d('2026-12-31T23:59:59Z'))).toBe('NOT_STARTED');
    expect(effectivePhase(base, d('2027-01-01T00:00:00Z'))).toBe('ACTIVE');
    expect(effectivePhase(base, d('2027-12-31T23:59:59Z'))).toBe('ACTIVE');
    expect(effectivePhase(base, d('2028-01-01T00:00:00Z'))).toBe('IN_GRACE');
    expect(effectivePhase(base, d('2028-01-15T00:00:00Z'))).toBe('EXPIRED');
    expect(effectiveStatus(base, d('2028-01-10T00:00:00Z'))).toBe(EntitlementStatus.ACTIVE);
    expect(effectiveStatus(base, d('2028-02-01T00:00:00Z'))).toBe(EntitlementStatus.EXPIRED);
  });

  it('perpetual never ends; stored SUSPENDED/CANCELLED win; ended early reads CANCELLED', () => {
    expect(effectivePhase({ ...base, endsAt: null, graceEndsAt: null }, d('2100-01-01T00:00:00Z'))).toBe('ACTIVE');
    expect(effectivePhase({ ...base, status: EntitlementStatus.SUSPENDED }, d('2027-06-01T00:00:00Z'))).toBe('SUSPENDED');
    expect(effectivePhase({ ...base, status: EntitlementStatus.CANCELLED }, d('2027-06-01T00:00:00Z'))).toBe('CANCELLED');
    expect(effectivePhase({ ...base, endedReason: 'cancelled' }, d('2028-01-02T00:00:00Z'))).toBe('CANCELLED');
  });
});
