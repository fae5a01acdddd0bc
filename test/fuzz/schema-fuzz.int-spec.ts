import fc from 'fast-check';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';
import { Role } from '../../src/auth/role';
import { buildHubSchema } from '../../src/server/schema';
import { FUZZ_SEED } from '../support/property';
import { createAccount, day, orderInput, seedCatalog, SUBMIT } from '../support/orders';
import { startTestHub, type TestHub } from '../support/test-hub';

/**
 * The schema-driven fuzzer (docs/testing.md). Every Query and Mutation field is called, in
 * turn, with arguments generated from its types — valid, boundary and invalid (wrong types,
 * huge strings, negative and enormous numbers, unknown and other accounts' ids, unicode,
 * nulls) — under keys of every role and account-scoped keys. It asserts that the hub never
 * answers with an internal error or a 500, that a refused mutation writes nothing (row
 * counts and row versions of every table, audit rows included, unchanged), and that an
 * account-scoped key never receives another account's ids.
 *
 * Fixed seed and a bounded count in CI; `EHUB_FUZZ_SEED` and `EHUB_FUZZ_CALLS` override them.
 */
const CALLS = Number(process.env.EHUB_FUZZ_CALLS ?? 300);
// A bounded count, not a time limit: on a loaded machine the calls may take longer than jest's default.
jest.setTimeout(Math.max(240_000, CALLS * 400));

let hub: TestHub;
let schema: GraphQLSchema;
/** Ids owned by account A (the scoped keys' account) and by account B (which they must never see). */
const own: { a: string[]; b: string[] } = { a: [], b: [] };
let accountA = '';
let accountB = '';
const keys: { name: string; key: string; scopedTo: string | null }[] = [];
/** Tables compared after a refused mutation (api_key: its last-used time is written by a timer). */
let snapshotSql = '';

const FEATURES = ['f.core', 'f.render', 'f.api', 'f.seat', 'f.device', 'f.float', 'f.usage', 'f.outcome'];
const SKUS = ['PERP', 'SUB', 'DEV', 'SEAT', 'FLOAT', 'USE', 'METER', 'OUT', 'SUITE'];
const METERS = ['api.calls'];

async function ownedIds(accountId: string): Promise<string[]> {
  const tables: { table_name: string }[] = await hub.ds.query(
    `SELECT c.table_name FROM information_schema.columns c
       JOIN information_schema.columns i ON i.table_schema = c.table_schema AND i.table_name = c.table_name AND i.column_name = 'id'
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
      WHERE c.table_schema = 'public' AND c.column_name = 'account_id'`,
  );
  const ids = new Set<string>([accountId]);
  for (const { table_name } of tables) {
    const rows: { id: string }[] = await hub.ds.query(`SELECT id::text AS id FROM "${table_name}" WHERE account_id::text = $1`, [accountId]);
    for (const r of rows) if (r.id.length >= 16) ids.add(r.id); // ids short enough to occur by chance are not evidence
  }
  return [...ids];
}

async function seedAccount(name: string, n: number): Promise<string> {
  const id = await createAccount(hub, name, `001FUZZ0000000${n}`);
  await hub.ok(SUBMIT, {
    input: orderInput(id, `fuzz-${n}`, [{ sku: 'SUB' }, { sku: 'SEAT', quantity: 3 }, { sku: 'DEV', quantity: 2 }, { sku: 'FLOAT', quantity: 2 }, { sku: 'METER' }, { sku: 'USE' }]),
  });
  await hub.ok('mutation($i: UpsertContactInput!) { upsertContact(input: $i) { id } }', { i: { accountId: id, email: `user${n}@example.com`, name: `User ${n}` } });
  await hub.ok('mutation($a: ID!) { activateDevice(accountId: $a, feature: "f.device", fingerprint: "fp-1") { id } }', { a: id }).catch(() => undefined);
  await hub.ok('mutation($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted } }', {
    e: [{ id: `u-${n}`, accountId: id, meter: METERS[0], quantity: 5, occurredAt: `${day(-1)}T10:00:00Z`, deployment: 'CLOUD', user: 'u1' }],
  });
  await hub.ok('mutation($a: ID!) { runCompliance(accountId: $a) { __typename } }', { a: id }).catch(() => undefined);
  return id;
}

beforeAll(async () => {
  hub = await startTestHub();
  schema = await buildHubSchema();
  await seedCatalog(hub);
  await hub.ok('mutation { upsertMeter(input: { key: "api.calls", name: "API calls", aggregation: SUM, unit: "call" }) { id } }');
  accountA = await seedAccount('Fuzz A', 1);
  accountB = await seedAccount('Fuzz B', 2);
  own.a = await ownedIds(accountA);
  own.b = await ownedIds(accountB);
  for (const role of Object.values(Role)) keys.push({ name: role, key: await hub.createKey(role), scopedTo: null });
  for (const role of [Role.OPERATIONS, Role.INTEGRATION, Role.READONLY, Role.FINANCE]) {
    keys.push({ name: `${role}@A`, key: await hub.createKey(role, accountA), scopedTo: accountA });
  }
  const tables: { t: string }[] = await hub.ds.query(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
  snapshotSql = tables
    .map(({ t }) => `SELECT '${t}' AS t, count(*)::text AS n, ${t === 'api_key' ? "''" : 'coalesce(max(xmin::text::bigint), 0)::text'} AS v FROM "${t}"`)
    .join(' UNION ALL ');
});
afterAll(async () => hub?.close());

async function snapshot(): Promise<Map<string, string>> {
  const rows: { t: string; n: string; v: string }[] = await hub.ds.query(snapshotSql);
  return new Map(rows.map((r) => [r.t, `${r.n} rows, version ${r.v}`]));
}

// ---- argument generation --------------------------------------------------------------

type Mode = 'valid' | 'boundary' | 'invalid';
const HUGE = 'x'.repeat(100_000);
const UNICODE = ['żółć', 'חשבון', '😀🚀', 'e\u0301', '\u200b', 'Ω≈ç√', '\u0000nul', '\ud800lone', 'a\u202eb'];
const UNKNOWN_ID = '00000000-0000-4000-8000-00000000dead';
const NASTY: unknown[] = [null, '', ' ', HUGE, -1, 0, -2147483648, 2147483647, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 1.5, true, [], {}, { a: [1] }, 'not-a-uuid', UNKNOWN_ID, '9999-12-31', '0000-01-01', '2027-02-29', '2027-13-01T25:61:00Z', ...UNICODE];

/** A value for a leaf from its name: ids from both accounts' pools, known keys, or text. */
function stringFor(name: string, mode: Mode): fc.Arbitrary<unknown> {
  const n = name.toLowerCase();
  const ids = fc.constantFrom(...own.a, ...own.b, UNKNOWN_ID, accountA, accountB);
  if (n === 'id' || n.endsWith('id') || n.endsWith('ids')) return mode === 'boundary' ? fc.constantFrom(UNKNOWN_ID, 'x', '') : ids;
  if (n.includes('feature')) return fc.constantFrom(...FEATURES, 'f.nope');
  if (n.includes('sku')) return fc.constantFrom(...SKUS, 'NOPE');
  if (n.includes('meter')) return fc.constantFrom(...METERS, 'nope');
  if (n.includes('currency')) return fc.constantFrom('USD', 'EUR', 'usd', 'XXXX');
  if (n.includes('email')) return fc.constantFrom('a@example.com', 'not-an-email', `${'a'.repeat(300)}@example.com`);
  if (n.includes('url')) return fc.constantFrom('http://127.0.0.1:9/hook', 'ftp://127.0.0.1/x', 'nope');
  if (n.includes('month') || n === 'from' || n === 'to') return fc.constantFrom('2027-01', '2027-13', '1999-12', day(0).slice(0, 7));
  if (mode === 'boundary') return fc.constantFrom('', 'a', 'a'.repeat(255), 'a'.repeat(256), ...UNICODE);
  return fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom('fp-1', 'u1', 'salesforce', 'Account', 'manual', `fuzz-1`));
}

function leaf(typeName: string, fieldName: string, mode: Mode): fc.Arbitrary<unknown> {
  switch (typeName) {
    case 'ID':
    case 'String':
      return stringFor(fieldName, mode);
    case 'Int':
      return mode === 'boundary' ? fc.constantFrom(0, -1, 1, 2147483647, -2147483648) : fc.integer({ min: 0, max: 50 });
    case 'Float':
      return mode === 'boundary' ? fc.constantFrom(0, -1, 0.000001, 1e15, 1e300, -0.5) : fc.oneof(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 1000, noNaN: true }));
    case 'Boolean':
      return fc.boolean();
    case 'DateTimeISO':
      return mode === 'boundary'
        ? fc.constantFrom('1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2028-02-29T12:00:00Z')
        : fc.date({ min: new Date(Date.UTC(2020, 0, 1)), max: new Date(Date.UTC(2030, 0, 1)), noInvalidDate: true }).map((d) => d.toISOString());
    case 'LocalDate':
      return mode === 'boundary' ? fc.constantFrom('0001-01-01', '9999-12-31', '2028-02-29') : fc.integer({ min: -400, max: 400 }).map(day);
    case 'MinorAmount':
      return mode === 'boundary' ? fc.constantFrom('0', '-1', '999999999999999999', '-999999999999999999') : fc.integer({ min: 0, max: 1_000_000 });
    case 'JSON':
      return fc.jsonValue({ maxDepth: 2 });
    case 'JSONObject':
      return fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 });
    default:
      return fc.string();
  }
}

function valueOf(type: GraphQLInputType, name: string, mode: Mode, depth = 0): fc.Arbitrary<unknown> {
  const inner = (): fc.Arbitrary<unknown> => {
    const t = isNonNullType(type) ? type.ofType : type;
    if (isListType(t)) return fc.array(valueOf(t.ofType, name, mode, depth + 1), { maxLength: depth > 2 ? 0 : 3 });
    if (isEnumType(t)) return fc.constantFrom(...t.getValues().map((v) => v.name));
    if (isInputObjectType(t)) {
      const fields = Object.values(t.getFields());
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const f of fields) shape[f.name] = depth > 3 && !isNonNullType(f.type) ? fc.constant(undefined) : valueOf(f.type, f.name, mode, depth + 1);
      const required = fields.filter((f) => isNonNullType(f.type)).map((f) => f.name);
      return fc.record(shape, { requiredKeys: required });
    }
    return leaf(t.name, name, mode);
  };
  const base = isNonNullType(type) ? inner() : fc.option(inner(), { freq: 3, nil: null });
  // Invalid calls: any value, at any depth, may be replaced by a nasty one.
  return mode === 'invalid' ? fc.oneof({ weight: 4, arbitrary: base }, { weight: 1, arbitrary: fc.constantFrom(...NASTY) }) : base;
}

// ---- selection sets ---------------------------------------------------------------------

/** Every leaf without required arguments, and objects below it, to a bounded depth and width. */
function selection(type: GraphQLOutputType, depth: number): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return '';
  if (isUnionType(named)) return '{ __typename }';
  if (!isObjectType(named) && !isInterfaceType(named)) return '';
  const fields = Object.values(named.getFields()).filter((f) => f.args.every((a) => !isNonNullType(a.type) || a.defaultValue !== undefined));
  const leaves = fields.filter((f) => isLeafType(getNamedType(f.type))).map((f) => f.name);
  const nested = depth < 3 ? fields.filter((f) => !isLeafType(getNamedType(f.type))).slice(0, 6) : [];
  const parts = ['__typename', ...leaves, ...nested.map((f) => `${f.name} ${selection(f.type, depth + 1)}`).filter((s) => !s.endsWith(' '))];
  return `{ ${parts.join(' ')} }`;
}

interface Call {
  kind: 'query' | 'mutation';
  field: GraphQLField<unknown, unknown>;
  mode: Mode;
  keyIndex: number;
  variables: Record<string, unknown>;
}

function document(c: Call): string {
  const args = c.field.args;
  const defs = args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
  const uses = args.map((a) => `${a.name}: $${a.name}`).join(', ');
  return `${c.kind} Fuzz${defs ? `(${defs})` : ''} { ${c.field.name}${uses ? `(${uses})` : ''} ${selection(c.field.type, 1)} }`;
}

/** Top-level null and missing values of an invalid call stay in the variables: the hub must refuse them cleanly. */
function callArbitrary(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): fc.Arbitrary<Call> {
  return fc
    .record({ mode: fc.constantFrom<Mode>('valid', 'valid', 'boundary', 'invalid', 'invalid'), keyIndex: fc.nat({ max: keys.length - 1 }), seed: fc.integer() })
    .chain(({ mode, keyIndex }) => {
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const a of field.args) shape[a.name] = valueOf(a.type, a.name, mode);
      return fc.record(shape, { requiredKeys: [] }).map((variables) => ({ kind, field, mode, keyIndex, variables }));
    });
}

const truncate = (v: unknown) => {
  const s = JSON.stringify(v, (_k, x) => (typeof x === 'string' && x.length > 80 ? `${x.slice(0, 40)}…(${x.length} chars)` : x));
  return s.length > 600 ? `${s.slice(0, 600)}…` : s;
};

describe('schema fuzzer', () => {
  it(`calls every operation with generated arguments under every role: no internal error, no partial write, no leak (seed ${FUZZ_SEED}, ${CALLS} calls)`, async () => {
    const ops = [
      ...Object.values(schema.getQueryType()!.getFields()).map((f) => ['query', f] as const),
      ...Object.values(schema.getMutationType()!.getFields()).map((f) => ['mutation', f] as const),
    ];
    // One plan for the whole run, from the seed: operation i % n, so every one is called.
    const plans = ops.map(([kind, f]) => fc.sample(callArbitrary(kind, f), { seed: FUZZ_SEED + f.name.length, numRuns: Math.ceil(CALLS / ops.length) }));
    const failures = new Map<string, string>();
    const codes = new Map<string, number>();
    const called = new Set<string>();
    for (let i = 0; i < CALLS; i++) {
      const c = plans[i % ops.length]![Math.floor(i / ops.length)]!;
      const key = keys[c.keyIndex]!;
      const query = document(c);
      const before = c.kind === 'mutation' ? await snapshot() : null;
      const res = await hub.gql(query, c.variables, key.key);
      called.add(c.field.name);
      const text = JSON.stringify({ data: res.data, errors: res.errors });
      const code = res.errors?.[0]?.extensions?.code ?? 'OK';
      codes.set(code, (codes.get(code) ?? 0) + 1);
      const where = `${c.kind} ${c.field.name} as ${key.name} (${c.mode}) ${truncate(c.variables)}`;
      const fail = (what: string) => {
        const id = `${c.field.name}: ${what.split(':')[0]}`;
        if (!failures.has(id)) failures.set(id, `${what}\n    ${where}`);
      };
      if (res.status >= 500) fail(`HTTP ${res.status}: ${text.slice(0, 300)}`);
      for (const e of res.errors ?? []) if (e.extensions?.code === 'INTERNAL' || !e.extensions?.code) fail(`INTERNAL: ${e.message}`);
      if (before && res.errors?.length) {
        const after = await snapshot();
        const changed = [...after].filter(([t, v]) => before.get(t) !== v).map(([t, v]) => `${t} ${before.get(t)} → ${v}`);
        if (changed.length) fail(`partial write: refused with ${code} but ${changed.join('; ')}`);
      }
      if (key.scopedTo) {
        const asked = JSON.stringify(c.variables);
        const leaked = own.b.filter((id) => text.includes(id) && !asked.includes(id));
        if (leaked.length) fail(`leak: a key scoped to account A received account B's ids ${leaked.slice(0, 3).join(', ')}`);
      }
    }
    if (process.env.EHUB_FUZZ_VERBOSE) console.log(Object.fromEntries(codes));
    expect(called.size).toBe(ops.length);
    expect([...failures.values()]).toEqual([]);
    // The run reached past validation: some calls succeeded and some were refused.
    expect(codes.get('OK') ?? 0).toBeGreaterThan(CALLS / 20);
  });
});
