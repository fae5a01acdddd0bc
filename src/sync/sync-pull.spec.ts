import { parseUsageEvent, type UsageEventDraft } from '../usage/usage.rules';
import { usageLanes } from './sync-pull';

const limits = { now: Date.parse('2026-12-01T00:00:00Z'), maxSkewSeconds: 86_400, maxPropertiesBytes: 4096 };
const ACCOUNTS = Array.from({ length: 37 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);

/** A time-ordered page: event k of account k mod 37, as a usage file sorted by time holds them. */
const page = (n: number) =>
  Array.from({ length: n }, (_, k) =>
    parseUsageEvent(
      { id: `E${k}`, source: 'sync:x', accountId: ACCOUNTS[k % ACCOUNTS.length], meter: 'm', quantity: '1', occurredAt: new Date(limits.now - (n - k) * 1000).toISOString(), deployment: 'CLOUD' },
      k,
      limits,
    ) as UsageEventDraft,
  );

describe('usageLanes', () => {
  it('puts every event in exactly one batch, each account in one lane, page order kept, batches no larger than asked', () => {
    const events = page(1000);
    const lanes = usageLanes(events, 4, 60);
    expect(lanes.length).toBe(4);
    const flat = lanes.flat(2);
    expect(flat.map((e) => (e as UsageEventDraft).index).sort((a, b) => a - b)).toEqual(events.map((_, k) => k));
    const laneOfAccount = new Map<string, number>();
    lanes.forEach((lane, l) => {
      for (const batch of lane) {
        expect(batch.length).toBeGreaterThan(0);
        expect(batch.length).toBeLessThanOrEqual(60);
      }
      const indexes = lane.flat().map((e) => (e as UsageEventDraft).index);
      expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
      for (const e of lane.flat() as UsageEventDraft[]) {
        expect(laneOfAccount.get(e.accountId!) ?? l).toBe(l);
        laneOfAccount.set(e.accountId!, l);
      }
    });
    expect(laneOfAccount.size).toBe(ACCOUNTS.length);
    // Each of the 37 accounts holds 27 or 28 of the 1,000 events; no lane is empty with 37 accounts over 4 lanes.
    for (const lane of lanes) expect(lane.flat().length).toBeGreaterThan(0);
  });

  it('one lane when asked for one, or when there is one event', () => {
    expect(usageLanes(page(10), 1, 1000)).toEqual([[page(10)]]);
    expect(usageLanes(page(1), 4, 1000)).toEqual([[page(1)]]);
    expect(usageLanes([], 4, 1000)).toEqual([]);
  });
});
