import { gqlError, startTestHub, type TestHub } from '../support/test-hub';
import { Role } from '../../src/auth/role';
import { createAccount, day, grant, rowCounts, seedLicensingCatalog } from './licensing-support';

let hub: TestHub;
let acme: string;
beforeAll(async () => {
  hub = await startTestHub();
  await seedLicensingCatalog(hub);
  acme = await createAccount(hub, 'Seats Inc');
});
afterAll(async () => hub?.close());

const ASSIGN = `mutation ($e: ID!, $m: String!) { assignSeat(entitlementId: $e, email: $m) { id entitlementId accountId email contactId assignedAt releasedAt active } }`;
const RELEASE = `mutation ($e: ID!, $m: String!) { releaseSeat(entitlementId: $e, email: $m) { id email active releasedAt } }`;

interface Seat {
  id: string;
  email: string;
  contactId: string | null;
  active: boolean;
  releasedAt: string | null;
}
const assign = (e: string, m: string, key?: string) => hub.gql<{ assignSeat: Seat }>(ASSIGN, { e, m }, key);
const assigned = async (e: string) => (await hub.ds.query(`SELECT count(*)::int AS n FROM seat WHERE entitlement_id = $1 AND released_at IS NULL`, [e]))[0].n;

describe('assignSeat / releaseSeat', () => {
  it('assigns a seat, links the account contact with that email, and assigning the same email again (any case) returns the same seat', async () => {
    const { upsertContact } = await hub.ok<{ upsertContact: { id: string } }>(
      `mutation ($a: ID!) { upsertContact(input: { accountId: $a, email: "ada@seats.io", name: "Ada" }) { id } }`,
      { a: acme },
    );
    const ent = await grant(hub, acme, { sku: 'L-SEAT', quantity: 3 });
    const first = await assign(ent, 'Ada@Seats.io');
    expect(first.errors).toBeUndefined();
    expect(first.data!.assignSeat).toMatchObject({ email: 'ada@seats.io', contactId: upsertContact.id, active: true, releasedAt: null });
    const again = await assign(ent, '  ADA@seats.IO ');
    expect(again.data!.assignSeat).toEqual(first.data!.assignSeat);
    const noContact = await assign(ent, 'bob@seats.io');
    expect(noContact.data!.assignSeat.contactId).toBeNull();
    expect(await assigned(ent)).toBe(2);
    const { entitlement } = await hub.ok<{ entitlement: { seats: { email: string }[] } }>(`query ($id: ID!) { entitlement(id: $id) { seats { email } } }`, { id: ent });
    expect(entitlement.seats).toEqual([{ email: 'ada@seats.io' }, { email: 'bob@seats.io' }]);
  });

  it('over the limit → LIMIT_EXCEEDED ENTITLEMENT_SEAT_LIMIT_EXCEEDED; releasing frees the seat; releasing twice is a replay', async () => {
    const ent = await grant(hub, acme, { sku: 'L-SEAT', quantity: 2 });
    await assign(ent, 'a@x.io');
    await assign(ent, 'b@x.io');
    const before = await rowCounts(hub);
    const over = await assign(ent, 'c@x.io');
    expect(gqlError(over)).toMatchObject({ code: 'LIMIT_EXCEEDED', subCode: 'ENTITLEMENT_SEAT_LIMIT_EXCEEDED' });
    expect(over.errors![0]!.extensions).toMatchObject({ limit: 2, inUse: 2 });
    expect(await rowCounts(hub)).toEqual(before);

    const released = await hub.ok<{ releaseSeat: Seat }>(RELEASE, { e: ent, m: 'A@x.io' });
    expect(released.releaseSeat).toMatchObject({ email: 'a@x.io', active: false });
    const replay = await hub.ok<{ releaseSeat: Seat }>(RELEASE, { e: ent, m: 'a@x.io' });
    expect(replay.releaseSeat).toEqual(released.releaseSeat);
    expect((await assign(ent, 'c@x.io')).errors).toBeUndefined();
    expect(await assigned(ent)).toBe(2);
  });

  it('30 concurrent assignments of distinct users on a 5-seat entitlement → exactly 5 seats', async () => {
    const ent = await grant(hub, acme, { sku: 'L-SEAT', quantity: 5 });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => assign(ent, `user${i}@race.io`)));
    expect(results.filter((r) => !r.errors)).toHaveLength(5);
    for (const r of results.filter((x) => x.errors)) expect(gqlError(r).subCode).toBe('ENTITLEMENT_SEAT_LIMIT_EXCEEDED');
    expect(await assigned(ent)).toBe(5);
  });

  it('10 concurrent assignments of one user (in different cases) → one seat', async () => {
    const ent = await grant(hub, acme, { sku: 'L-SEAT', quantity: 5 });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => assign(ent, i % 2 ? 'Same@Race.io' : 'same@race.io')));
    expect(results.every((r) => !r.errors)).toBe(true);
    expect(new Set(results.map((r) => r.data!.assignSeat.id)).size).toBe(1);
    expect(await assigned(ent)).toBe(1);
  });

  it('wrong model, entitlement not in force, bad email and unknown users are refused and change nothing', async () => {
    const dev = await grant(hub, acme, { sku: 'L-DEV', quantity: 5 });
    const expired = await grant(hub, acme, { sku: 'L-SEAT', quantity: 5, startDate: day(-400), endDate: day(-40) });
    const ent = await grant(hub, acme, { sku: 'L-SEAT', quantity: 5 });
    const before = await rowCounts(hub);
    expect(gqlError(await assign(dev, 'a@x.io'))).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'ENTITLEMENT_MODEL_MISMATCH' });
    expect((await assign(expired, 'a@x.io')).errors![0]!.extensions).toMatchObject({ subCode: 'ENTITLEMENT_NOT_ACTIVE', status: 'EXPIRED' });
    expect(gqlError(await assign(ent, 'not-an-email'))).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'SEAT_EMAIL_INVALID', fields: [{ path: 'email' }] });
    expect(gqlError(await hub.gql(RELEASE, { e: ent, m: 'ghost@x.io' }))).toMatchObject({ code: 'NOT_FOUND', subCode: 'SEAT_NOT_FOUND' });
    expect(await rowCounts(hub)).toEqual(before);
  });

  it('audited; a key scoped to another account sees NOT_FOUND', async () => {
    const ent = await grant(hub, acme, { sku: 'L-SEAT', quantity: 5 });
    const seat = (await assign(ent, 'audit@x.io')).data!.assignSeat;
    await hub.ok(RELEASE, { e: ent, m: 'audit@x.io' });
    const rows = await hub.ds.query(`SELECT action, operation FROM audit_log WHERE entity = 'Seat' AND entity_id = $1 ORDER BY at`, [seat.id]);
    expect(rows).toEqual([
      { action: 'CREATE', operation: 'assignSeat' },
      { action: 'RELEASE', operation: 'releaseSeat' },
    ]);
    const scoped = await hub.createKey(Role.ADMIN, await createAccount(hub, 'Other'));
    expect(gqlError(await assign(ent, 'spy@x.io', scoped))).toMatchObject({ code: 'NOT_FOUND', subCode: 'ENTITLEMENT_NOT_FOUND' });
    expect(await assigned(ent)).toBe(0);
  });
});
