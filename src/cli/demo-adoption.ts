import type { RequestContext } from '../common/context';
import type { Services } from '../server/services';
import type { OrderInput } from '../orders/order.types';
import type { UsageEventInput } from '../usage/usage.types';
import type { UpsertAccountInput, UpsertContactInput } from '../accounts/account.types';
import { Deployment } from '../entitlements/entitlement.enums';
import { seededRandom } from '../churn/book-generator';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const SOURCE = 'demo-adoption';

/**
 * The personas of the sample: what they use, and the title and department their contact carries.
 * A render event stays within the 5 floating licences of the suite (the cap compliance checks).
 */
const PERSONAS = [
  { role: 'designer', title: 'Product Designer', department: 'Design', meter: 'render.minutes', quantity: [1, 3] },
  { role: 'engineer', title: 'Simulation Engineer', department: 'Engineering', meter: 'render.minutes', quantity: [2, 5] },
  { role: 'analyst', title: 'Data Analyst', department: 'Operations', meter: 'active.users', quantity: [1, 1] },
  { role: 'manager', title: 'Engineering Manager', department: 'Engineering', meter: 'active.users', quantity: [1, 1] },
] as const;

export interface AdoptionDemoSummary {
  holders: number;
  users: number;
  events: number;
  contacts: number;
  findings: number;
}

/**
 * A sample for the console's Adoption page (`ehub demo --book`): the Enterprise Design Suite
 * (SUITE-ENT, a bundle) sold to a dozen customers of the sample's own ("Suite Customer 01"…),
 * with 30 days of usage reported by named users carrying a `role` property, through the
 * hub's own order and usage services. Rendering is used by most, data export by one account
 * only (rarely used), dashboards by some, one customer has more dashboard users than its
 * suite grants (over the limit, found by the compliance run at the end), three call the
 * API the suite does not include (not included); about two thirds of the users have a
 * contact with a title and a department. Usage is ingested exactly once per event id, so
 * running it again adds nothing.
 */
export async function seedAdoptionDemo(s: Services, ctx: RequestContext, opts: { seed?: number; now?: number } = {}): Promise<AdoptionDemoSummary> {
  const now = opts.now ?? Date.now();
  const rand = seededRandom(opts.seed ?? 7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const between = (lo: number, hi: number) => Math.round(lo + rand() * (hi - lo));

  // Customers of their own, so nothing else they hold draws the sample's usage.
  const accounts: { id: string; domain: string }[] = [];
  for (let i = 1; i <= 12; i++) {
    const no = String(i).padStart(2, '0');
    const domain = `suite${no}.adoption.example`;
    const a = await s.accounts.upsert(ctx, {
      name: `Suite Customer ${no}`,
      domain,
      currency: 'USD',
      country: 'US',
      segment: i <= 3 ? 'ENTERPRISE' : 'MID_MARKET',
      externalRefs: [{ system: 'demo', object: 'Account', externalId: `SUITE-${no}` }],
    } as UpsertAccountInput);
    accounts.push({ id: a.id, domain });
  }
  const start = new Date(now - 120 * DAY).toISOString().slice(0, 10);
  const end = new Date(now + 245 * DAY).toISOString().slice(0, 10);
  for (const [i, a] of accounts.entries()) {
    await s.orders.submit(ctx, {
      source: SOURCE,
      externalId: `SUITE-${a.id}`,
      revision: 1,
      accountId: a.id,
      orderDate: start,
      currency: 'USD',
      lines: [{ lineNo: 1, externalLineId: `SUITE-${a.id}-1`, sku: 'SUITE-ENT', quantity: 1, unitPrice: String(1_100_000 + i * 10_000), startDate: start, endDate: end }],
    } as OrderInput);
  }

  const events: UsageEventInput[] = [];
  const contacts: UpsertContactInput[] = [];
  let users = 0;
  // In the current month and the past: the dashboards cap is counted per calendar month.
  const monthStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
  const at = (hoursAgo: number, sameMonth = false) => new Date(Math.min(now - 60_000, Math.max(sameMonth ? monthStart + HOUR : 0, now - hoursAgo * HOUR)));
  for (const [i, a] of accounts.entries()) {
    const team = i === 0 ? 30 : between(3, 9);
    for (let u = 1; u <= team; u++) {
      // The first account's team is mostly dashboard users: more than the suite's 25.
      const persona = i === 0 ? PERSONAS[u <= 4 ? 0 : 2 + (u % 2)]! : pick(PERSONAS);
      const email = `${persona.role}${u}@${a.domain}`;
      users++;
      const n = persona.meter === 'active.users' ? between(2, 6) : between(4, 14);
      for (let k = 0; k < n; k++) {
        const quantity = between(persona.quantity[0], persona.quantity[1]);
        events.push({
          id: `${SOURCE}-${a.id}-${u}-${k}`,
          accountId: a.id,
          meter: persona.meter,
          quantity,
          occurredAt: at(2 + between(0, 29 * 24), persona.meter === 'active.users'),
          deployment: persona.meter === 'render.minutes' && rand() < 0.4 ? Deployment.ON_PREM : Deployment.SAAS,
          user: email,
          // The meters' value properties: render.minutes reads `minutes`, active.users counts distinct `user`.
          properties: { role: persona.role, ...(persona.meter === 'active.users' ? { user: email } : { minutes: quantity }) },
        } as UsageEventInput);
      }
      if (rand() < 0.67) contacts.push({ accountId: a.id, email, name: null, title: persona.title, department: persona.department } as UpsertContactInput);
    }
    // One account exports data (rarely used); three call the API the suite does not include.
    if (i === 1) {
      for (let k = 0; k < 5; k++) {
        events.push({ id: `${SOURCE}-${a.id}-gb-${k}`, accountId: a.id, meter: 'storage.gb', quantity: 1, occurredAt: at(10 + k * 24), deployment: Deployment.SAAS, properties: { gb: 40 + k } } as UsageEventInput);
      }
    }
    if (i >= 2 && i < 5) {
      for (let k = 0; k < 8; k++) {
        events.push({
          id: `${SOURCE}-${a.id}-api-${k}`,
          accountId: a.id,
          meter: 'api.calls',
          quantity: 1,
          occurredAt: at(5 + k * 30),
          deployment: Deployment.CLOUD,
          user: `integration@${a.domain}`,
          properties: { role: 'integration' },
        } as UsageEventInput);
      }
    }
  }
  for (let i = 0; i < events.length; i += 1000) {
    const answer = await s.usage.recordUsage(ctx, events.slice(i, i + 1000));
    if (answer.rejected.length) throw new Error(`the adoption sample's usage was refused: ${JSON.stringify(answer.rejected.slice(0, 3))}`);
  }
  for (const c of contacts) await s.accounts.contacts.upsert(ctx, c);
  let findings = 0;
  for (const a of accounts) findings += (await s.compliance.runCompliance(ctx, a.id)).opened;
  return { holders: accounts.length, users, events: events.length, contacts: contacts.length, findings };
}
