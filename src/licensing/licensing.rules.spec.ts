import { compareDecisions, decide, slots, type CheckRow, type Decision } from './licensing.rules';
import { CheckCode } from './licensing.types';

const row = (over: Partial<CheckRow>): CheckRow => ({
  id: 'e1',
  model: 'SUBSCRIPTION',
  quantity: '1',
  phase: 'ACTIVE',
  policy: 'ALLOW',
  limit_total: null,
  holdings: null,
  holds: null,
  balance_remaining: null,
  over: false,
  expires_at: null,
  ...over,
});
const none = { fingerprint: null, user: null };

describe('decide', () => {
  it('refuses an entitlement that is not in force with its phase, and allows in grace as IN_GRACE', () => {
    expect(decide(row({ phase: 'SUSPENDED' }), none)).toMatchObject({ allowed: false, code: CheckCode.SUSPENDED });
    expect(decide(row({ phase: 'NOT_STARTED' }), none).code).toBe(CheckCode.NOT_STARTED);
    expect(decide(row({ phase: 'EXPIRED' }), none).code).toBe(CheckCode.EXPIRED);
    expect(decide(row({ phase: 'CANCELLED' }), none).code).toBe(CheckCode.CANCELLED);
    expect(decide(row({ phase: 'IN_GRACE' }), none)).toMatchObject({ allowed: true, code: CheckCode.IN_GRACE });
  });

  it('metered: over the limit refuses under BLOCK and is OVERAGE otherwise (also in grace)', () => {
    const m = { model: 'METERED', limit_total: '10', balance_remaining: '0', over: true };
    expect(decide(row({ ...m, policy: 'BLOCK' }), none)).toMatchObject({ allowed: false, code: CheckCode.LIMIT_EXCEEDED, remaining: '0' });
    expect(decide(row({ ...m, policy: 'ALLOW_AND_NOTIFY' }), none)).toMatchObject({ allowed: true, code: CheckCode.OVERAGE });
    expect(decide(row({ ...m, policy: 'ALLOW', phase: 'IN_GRACE' }), none)).toMatchObject({ allowed: true, code: CheckCode.OVERAGE });
    expect(decide(row({ ...m, over: false, balance_remaining: '4' }), none)).toMatchObject({ allowed: true, code: CheckCode.VALID, remaining: '4' });
  });

  it('devices, seats and leases need the device, the user, or a free slot', () => {
    const dev = row({ model: 'DEVICE_LOCKED', quantity: '3', holdings: 1, holds: false });
    expect(decide(dev, none)).toMatchObject({ code: CheckCode.DEVICE_NOT_ACTIVATED, remaining: '2' });
    expect(decide(dev, { fingerprint: 'x', user: null }).code).toBe(CheckCode.DEVICE_NOT_ACTIVATED);
    expect(decide({ ...dev, holds: true }, { fingerprint: 'x', user: null }).code).toBe(CheckCode.VALID);
    const seat = row({ model: 'NAMED_USER', quantity: '2', holdings: 2, holds: false });
    expect(decide(seat, { fingerprint: null, user: 'a@b.io' }).code).toBe(CheckCode.USER_NOT_ASSIGNED);
    expect(decide({ ...seat, holds: true }, { fingerprint: null, user: 'a@b.io' })).toMatchObject({ code: CheckCode.VALID, remaining: '0' });
    const float = row({ model: 'CONCURRENT', quantity: '2', holdings: 2, holds: false });
    expect(decide(float, none).code).toBe(CheckCode.LIMIT_EXCEEDED);
    expect(decide({ ...float, holds: true }, none).code).toBe(CheckCode.VALID);
    expect(decide({ ...float, holdings: 1 }, none)).toMatchObject({ code: CheckCode.VALID, remaining: '1' });
  });

  it('a static feature limit refuses a larger quantity', () => {
    expect(decide(row({ limit_total: '10', over: true }), none).code).toBe(CheckCode.LIMIT_EXCEEDED);
    expect(decide(row({ limit_total: '10' }), none)).toMatchObject({ code: CheckCode.VALID, remaining: '10' });
  });

  it('slots are whole units', () => {
    expect(slots('5.0000')).toBe(5);
    expect(slots('2.5')).toBe(2);
    expect(slots('-1')).toBe(0);
  });
});

describe('compareDecisions', () => {
  const d = (code: CheckCode, remaining: string | null, expiresAt: string | null, id: string) => ({
    id,
    expiresAt: expiresAt ? new Date(expiresAt) : null,
    decision: { allowed: [CheckCode.VALID, CheckCode.IN_GRACE, CheckCode.OVERAGE].includes(code), code, reason: '', remaining } as Decision,
  });

  it('allowed first, then most remaining (null = unlimited), then latest end (null = never), then id', () => {
    const list = [
      d(CheckCode.EXPIRED, null, '2020-01-01', 'a'),
      d(CheckCode.LIMIT_EXCEEDED, '0', '2030-01-01', 'b'),
      d(CheckCode.OVERAGE, '0', '2030-01-01', 'c'),
      d(CheckCode.VALID, '5', '2031-01-01', 'd'),
      d(CheckCode.VALID, '50', '2030-01-01', 'e'),
      d(CheckCode.VALID, null, '2029-01-01', 'f'),
      d(CheckCode.VALID, null, null, 'g'),
      d(CheckCode.IN_GRACE, '100', null, 'h'),
      d(CheckCode.SUSPENDED, null, null, 'i'),
    ];
    expect([...list].sort(compareDecisions).map((x) => x.id)).toEqual(['g', 'f', 'e', 'd', 'h', 'c', 'b', 'i', 'a']);
  });
});
