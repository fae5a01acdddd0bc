import { startTestHub, type TestHub } from '../support/test-hub';
import { effectivePhase } from '../../src/entitlements/effective-status';
import { EntitlementStatus } from '../../src/entitlements/entitlement.enums';
import { periodLateral, phaseSql } from '../../src/licensing/licensing.sql';

/**
 * The SQL that every licensing statement shares: reset periods (month ends, leap years,
 * daylight saving, anniversaries) and the effective phase, which must agree with
 * effectivePhase() of src/entitlements. Evaluated by PostgreSQL at fixed instants.
 */
let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => hub?.close());

interface Term {
  reset: string | null;
  startDate: string;
  startsAt: string;
  endsAt: string | null;
  graceEndsAt?: string | null;
}

async function period(term: Term, at: string, tz = 'UTC'): Promise<[string, string | null]> {
  const [row] = await hub.ds.query(
    `SELECT p.period_start, p.period_end
       FROM (SELECT $1::text AS reset_period, $2::date AS start_date, $3::timestamptz AS starts_at, $4::timestamptz AS ends_at, coalesce($7::timestamptz, $4::timestamptz) AS grace_ends_at) e
      CROSS JOIN ${periodLateral('e', '$5::timestamptz', '$6::text')} p`,
    [term.reset, term.startDate, term.startsAt, term.endsAt, at, tz, term.graceEndsAt ?? null],
  );
  return [(row.period_start as Date).toISOString(), row.period_end ? (row.period_end as Date).toISOString() : null];
}

const utc = (reset: string | null, startDate: string, endsAt: string | null = null): Term => ({ reset, startDate, startsAt: `${startDate}T00:00:00Z`, endsAt });

describe('reset periods', () => {
  it('MONTHLY is the calendar month, whatever day the term started; month ends and leap February', async () => {
    const t = utc('MONTHLY', '2027-01-15');
    expect(await period(t, '2027-01-31T23:59:59.999Z')).toEqual(['2027-01-01T00:00:00.000Z', '2027-02-01T00:00:00.000Z']);
    expect(await period(t, '2027-02-01T00:00:00Z')).toEqual(['2027-02-01T00:00:00.000Z', '2027-03-01T00:00:00.000Z']);
    expect(await period(t, '2028-02-29T12:00:00Z')).toEqual(['2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z']);
    expect(await period(t, '2027-12-31T12:00:00Z')).toEqual(['2027-12-01T00:00:00.000Z', '2028-01-01T00:00:00.000Z']);
  });

  it('periods are computed in the contract time zone', async () => {
    const t: Term = { reset: 'MONTHLY', startDate: '2027-01-01', startsAt: '2026-12-31T23:00:00Z', endsAt: null };
    // 23:30 UTC on 31 January is already 1 February in Berlin.
    expect(await period(t, '2027-01-31T23:30:00Z', 'Europe/Berlin')).toEqual(['2027-01-31T23:00:00.000Z', '2027-02-28T23:00:00.000Z']);
    // A DAILY period on the day New York springs forward lasts 23 hours.
    const d: Term = { reset: 'DAILY', startDate: '2027-01-01', startsAt: '2027-01-01T05:00:00Z', endsAt: null };
    expect(await period(d, '2027-03-14T12:00:00Z', 'America/New_York')).toEqual(['2027-03-14T05:00:00.000Z', '2027-03-15T04:00:00.000Z']);
  });

  it('DAILY is the calendar day', async () => {
    expect(await period(utc('DAILY', '2027-01-01'), '2027-03-01T00:00:00Z')).toEqual(['2027-03-01T00:00:00.000Z', '2027-03-02T00:00:00.000Z']);
    expect(await period(utc('DAILY', '2027-01-01'), '2028-02-28T23:59:59Z')).toEqual(['2028-02-28T00:00:00.000Z', '2028-02-29T00:00:00.000Z']);
  });

  it('ANNUAL runs from the latest anniversary of the start date; a 29 February start has its anniversary on 28 February', async () => {
    const t = utc('ANNUAL', '2027-03-15');
    expect(await period(t, '2027-03-15T00:00:00Z')).toEqual(['2027-03-15T00:00:00.000Z', '2028-03-15T00:00:00.000Z']);
    expect(await period(t, '2028-03-14T23:59:59Z')).toEqual(['2027-03-15T00:00:00.000Z', '2028-03-15T00:00:00.000Z']);
    expect(await period(t, '2028-03-15T00:00:00Z')).toEqual(['2028-03-15T00:00:00.000Z', '2029-03-15T00:00:00.000Z']);
    const leap = utc('ANNUAL', '2024-02-29');
    expect(await period(leap, '2025-02-27T12:00:00Z')).toEqual(['2024-02-29T00:00:00.000Z', '2025-02-28T00:00:00.000Z']);
    expect(await period(leap, '2025-02-28T00:00:00Z')).toEqual(['2025-02-28T00:00:00.000Z', '2026-02-28T00:00:00.000Z']);
    expect(await period(leap, '2028-02-28T12:00:00Z')).toEqual(['2027-02-28T00:00:00.000Z', '2028-02-29T00:00:00.000Z']);
    expect(await period(leap, '2028-02-29T00:00:00Z')).toEqual(['2028-02-29T00:00:00.000Z', '2029-02-28T00:00:00.000Z']);
  });

  it('TERM (and no reset period) is the whole term; period ends are cut at the end of the term', async () => {
    expect(await period(utc('TERM', '2027-01-01', '2028-01-01T00:00:00Z'), '2027-06-01T00:00:00Z')).toEqual(['2027-01-01T00:00:00.000Z', '2028-01-01T00:00:00.000Z']);
    expect(await period(utc(null, '2027-01-01'), '2030-06-01T00:00:00Z')).toEqual(['2027-01-01T00:00:00.000Z', null]);
    expect(await period(utc('MONTHLY', '2027-01-01', '2027-01-16T00:00:00Z'), '2027-01-10T00:00:00Z')).toEqual(['2027-01-01T00:00:00.000Z', '2027-01-16T00:00:00.000Z']);
  });

  it('in the grace period, a period ends at the end of grace, never before it starts', async () => {
    const t = { ...utc('MONTHLY', '2027-01-01', '2027-01-16T00:00:00Z'), graceEndsAt: '2027-02-10T00:00:00Z' };
    expect(await period(t, '2027-01-20T00:00:00Z')).toEqual(['2027-01-01T00:00:00.000Z', '2027-02-01T00:00:00.000Z']);
    expect(await period(t, '2027-02-05T00:00:00Z')).toEqual(['2027-02-01T00:00:00.000Z', '2027-02-10T00:00:00.000Z']);
  });
});

describe('phaseSql agrees with effectivePhase()', () => {
  it('for every stored status, early end and instant around the term', async () => {
    const startsAt = new Date('2027-01-01T00:00:00Z');
    const endsAt = new Date('2028-01-01T00:00:00Z');
    const graceEndsAt = new Date('2028-01-11T00:00:00Z');
    const instants = ['2026-12-31T23:59:59Z', '2027-01-01T00:00:00Z', '2027-06-01T00:00:00Z', '2028-01-01T00:00:00Z', '2028-01-05T00:00:00Z', '2028-01-11T00:00:00Z', '2029-01-01T00:00:00Z'].map((s) => new Date(s));
    const terms = [
      { endsAt: null, graceEndsAt: null },
      { endsAt, graceEndsAt: endsAt },
      { endsAt, graceEndsAt },
      { endsAt, graceEndsAt: null },
    ];
    let compared = 0;
    for (const status of Object.values(EntitlementStatus)) {
      for (const endedReason of [null, 'cancelled']) {
        for (const term of terms) {
          for (const at of instants) {
            const e = { status, startsAt, endedReason, ...term };
            const [row] = await hub.ds.query(
              `SELECT ${phaseSql('e', '$6::timestamptz')} AS phase
                 FROM (SELECT $1::text AS status, $2::timestamptz AS starts_at, $3::timestamptz AS ends_at, $4::timestamptz AS grace_ends_at, $5::text AS ended_reason) e`,
              [status, startsAt, term.endsAt, term.graceEndsAt, endedReason, at],
            );
            expect({ e, at, phase: row.phase }).toEqual({ e, at, phase: effectivePhase(e, at) });
            compared++;
          }
        }
      }
    }
    expect(compared).toBe(4 * 2 * 4 * 7);
  });
});
