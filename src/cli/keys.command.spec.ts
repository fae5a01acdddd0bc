import { parseExpires } from './keys.command';

describe('ehub keys create --expires', () => {
  const now = new Date('2026-03-10T08:00:00.000Z');

  it('takes durations from now', () => {
    expect(parseExpires('90d', now).toISOString()).toBe('2026-06-08T08:00:00.000Z');
    expect(parseExpires('12h', now).toISOString()).toBe('2026-03-10T20:00:00.000Z');
    expect(parseExpires('2W', now).toISOString()).toBe('2026-03-24T08:00:00.000Z');
  });

  it('takes a date (midnight UTC) or an ISO date-time with its offset', () => {
    expect(parseExpires('2027-01-31', now).toISOString()).toBe('2027-01-31T00:00:00.000Z');
    expect(parseExpires('2027-01-31T12:30:00+02:00', now).toISOString()).toBe('2027-01-31T10:30:00.000Z');
    expect(parseExpires('2028-02-29T00:00Z', now).toISOString()).toBe('2028-02-29T00:00:00.000Z');
  });

  it('refuses what is not an instant, and a date-time without an offset', () => {
    for (const bad of ['soon', '90', '90m', '2027-02-30', '2027-13-01', '2027-02-30T00:00:00Z', '31/01/2027', '']) {
      expect(() => parseExpires(bad, now)).toThrow(/--expires/);
    }
    expect(() => parseExpires('2027-01-31T12:00', now)).toThrow(/offset/);
  });
});
