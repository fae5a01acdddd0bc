import { startTestHub, type TestHub } from '../support/test-hub';
import { createAccount, monthStart, recordUsage, runCompliance, seedComplianceCatalog } from './compliance-support';

/** Calendar months are the contract time zone's (EHUB_TIME_ZONE), not UTC's. */
let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ EHUB_TIME_ZONE: 'America/New_York' });
  await seedComplianceCatalog(hub);
});
afterAll(async () => hub?.close());

/** The instant New York's calendar month containing `utc` began (00:00 local, 04:00 or 05:00 UTC). */
function newYorkMonthStart(utc: Date): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit' }).formatToParts(utc).map((p) => [p.type, p.value]),
  );
  for (const offset of [4, 5]) {
    const candidate = new Date(Date.UTC(Number(parts.year), Number(parts.month) - 1, 1, offset));
    const local = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: '2-digit', hourCycle: 'h23', day: '2-digit' }).format(candidate);
    if (local === '01, 00') return candidate.toISOString();
  }
  throw new Error('no New York midnight found');
}

it('an event at 02:00 UTC on the 1st belongs to the previous month in New York', async () => {
  const account = await createAccount(hub, 'New York');
  const k = Date.now() > monthStart(0).getTime() + 3 * 3_600_000 ? 0 : -1;
  const at = new Date(monthStart(k).getTime() + 2 * 3_600_000);
  await recordUsage(hub, account, [{ meter: 'm.extra', quantity: 10, at }]);
  const [finding] = (await runCompliance(hub, account)).findings;
  expect(finding).toMatchObject({ kind: 'UNENTITLED_USE', periodStart: newYorkMonthStart(at), periodEnd: newYorkMonthStart(new Date(monthStart(k).getTime() + 86_400_000)) });
  expect(finding!.periodStart < at.toISOString()).toBe(true);
});
