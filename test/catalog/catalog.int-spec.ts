import { startTestHub, gqlError, type TestHub } from '../support/test-hub';
import { Role } from '../../src/auth/role';

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(async () => hub?.close());

interface Grant {
  feature: { key: string };
  limit: string | null;
}
interface ProductOut {
  id: string;
  sku: string;
  name: string;
  description: string | null;
  kind: string;
  listPrice: { amountMinor: string; currency: string };
  ssp: { amountMinor: string; currency: string } | null;
  defaultModel: string;
  status: string;
  isBundle: boolean;
  features: Grant[];
  components: { product: { sku: string }; quantity: number }[];
  effectiveFeatures: Grant[];
  createdAt: string;
  updatedAt: string;
}

const PRODUCT_FIELDS = `id sku name description kind listPrice { amountMinor currency } ssp { amountMinor currency }
  defaultModel status isBundle features { feature { key } limit } components { product { sku } quantity }
  effectiveFeatures { feature { key } limit } createdAt updatedAt`;
const UPSERT = `mutation Upsert($input: UpsertProductInput!) { upsertProduct(input: $input) { ${PRODUCT_FIELDS} } }`;
const GET = `query Get($sku: String, $id: ID) { product(sku: $sku, id: $id) { ${PRODUCT_FIELDS} } }`;

function productInput(sku: string, extra: Record<string, unknown> = {}) {
  return {
    sku,
    name: `Product ${sku}`,
    kind: 'SOFTWARE',
    listPrice: { amountMinor: 10000, currency: 'USD' },
    defaultModel: 'SUBSCRIPTION',
    ...extra,
  };
}

async function upsert(sku: string, extra: Record<string, unknown> = {}, key?: string): Promise<ProductOut> {
  return (await hub.ok<{ upsertProduct: ProductOut }>(UPSERT, { input: productInput(sku, extra) }, key)).upsertProduct;
}

async function get(sku: string): Promise<ProductOut> {
  return (await hub.ok<{ product: ProductOut }>(GET, { sku })).product;
}

async function feature(key: string, name = `Feature ${key}`): Promise<{ id: string; key: string }> {
  const res = await hub.ok<{ upsertFeature: { id: string; key: string } }>(
    'mutation($input: UpsertFeatureInput!) { upsertFeature(input: $input) { id key name description status } }',
    { input: { key, name } },
  );
  return res.upsertFeature;
}

const limits = (grants: Grant[]) => Object.fromEntries(grants.map((g) => [g.feature.key, g.limit]));

async function auditCount(entityId: string): Promise<number> {
  const res = await hub.ok<{ auditLog: { totalCount: number } }>('query($id: String) { auditLog(filter: { entityId: $id }) { totalCount } }', {
    id: entityId,
  });
  return res.auditLog.totalCount;
}

describe('features', () => {
  it('upserts by key, idempotently, and reads it back', async () => {
    const first = await feature('analytics.export', 'Export');
    const second = await feature('analytics.export', 'Export');
    expect(second.id).toBe(first.id);
    expect(await auditCount(first.id)).toBe(1); // the replay changed nothing
    const res = await hub.ok<{ feature: { key: string; name: string; status: string } }>('{ feature(key: "analytics.export") { key name status } }');
    expect(res.feature).toEqual({ key: 'analytics.export', name: 'Export', status: 'ACTIVE' });
    await feature('analytics.export', 'Export data');
    expect(await auditCount(first.id)).toBe(2);
  });

  it('rejects a malformed key with the field path', async () => {
    const res = await hub.gql('mutation { upsertFeature(input: { key: "Bad Key", name: "x" }) { id } }');
    const err = gqlError(res);
    expect(err.code).toBe('BAD_USER_INPUT');
    expect(err.fields).toEqual([expect.objectContaining({ path: 'input.key' })]);
  });

  it('an unknown key is NOT_FOUND', async () => {
    const res = await hub.gql('{ feature(key: "nope") { id } }');
    expect(gqlError(res).code).toBe('NOT_FOUND');
  });
});

describe('products', () => {
  beforeAll(async () => {
    await feature('core.use');
    await feature('seats');
    await feature('storage.gb');
  });

  it('creates, reads by sku and id, and updates', async () => {
    const created = await upsert('SW-BASIC', {
      description: 'The basic edition',
      ssp: { amountMinor: '9000', currency: 'USD' },
      features: [{ key: 'core.use' }, { key: 'seats', limit: 5 }],
    });
    expect(created).toMatchObject({
      sku: 'SW-BASIC',
      description: 'The basic edition',
      kind: 'SOFTWARE',
      listPrice: { amountMinor: '10000', currency: 'USD' },
      ssp: { amountMinor: '9000', currency: 'USD' },
      defaultModel: 'SUBSCRIPTION',
      status: 'ACTIVE',
      isBundle: false,
      components: [],
    });
    expect(limits(created.features)).toEqual({ 'core.use': null, seats: '5' });
    expect((await hub.ok<{ product: ProductOut }>(GET, { id: created.id })).product.sku).toBe('SW-BASIC');

    // Omitted description and ssp keep their values; a changed price is stored.
    const updated = await upsert('SW-BASIC', { listPrice: { amountMinor: 12000, currency: 'USD' }, kind: 'SAAS' });
    expect(updated).toMatchObject({ id: created.id, description: 'The basic edition', kind: 'SAAS', ssp: { amountMinor: '9000' } });
    expect(updated.listPrice.amountMinor).toBe('12000');
    expect(limits(updated.features)).toEqual({ 'core.use': null, seats: '5' });
    // null clears.
    const cleared = await upsert('SW-BASIC', { description: null, ssp: null, listPrice: { amountMinor: 12000, currency: 'USD' }, kind: 'SAAS' });
    expect(cleared.description).toBeNull();
    expect(cleared.ssp).toBeNull();
  });

  it('is idempotent: the same input twice leaves the same state and one audit record', async () => {
    const input = { features: [{ key: 'seats', limit: 2.5 }], ssp: { amountMinor: 500, currency: 'EUR' }, listPrice: { amountMinor: 900, currency: 'EUR' } };
    const first = await upsert('SW-IDEM', input);
    const second = await upsert('SW-IDEM', input);
    expect(second).toEqual(first);
    expect(limits(second.features)).toEqual({ seats: '2.5' });
    expect(await auditCount(first.id)).toBe(1);
    const audit = await hub.ok<{ auditLog: { edges: { node: { action: string; after: { features: unknown } } }[] } }>(
      'query($id: String) { auditLog(filter: { entityId: $id }) { edges { node { action after } } } }',
      { id: first.id },
    );
    expect(audit.auditLog.edges[0]!.node).toMatchObject({ action: 'CREATE', after: { features: [{ key: 'seats', limit: '2.5' }] } });
  });

  it('replaces features when given, keeps them when omitted, clears them with []', async () => {
    await upsert('SW-REPL', { features: [{ key: 'core.use' }, { key: 'seats', limit: 3 }] });
    expect(limits((await upsert('SW-REPL', { features: [{ key: 'seats', limit: 4 }, { key: 'storage.gb', limit: 100 }] })).features)).toEqual({
      seats: '4',
      'storage.gb': '100',
    });
    expect(limits((await upsert('SW-REPL')).features)).toEqual({ seats: '4', 'storage.gb': '100' });
    expect((await upsert('SW-REPL', { features: [] })).features).toEqual([]);
  });

  it('rejects an unknown feature key with its field path, changing nothing', async () => {
    await upsert('SW-UNK', { features: [{ key: 'core.use' }] });
    const res = await hub.gql(UPSERT, { input: productInput('SW-UNK', { features: [{ key: 'seats' }, { key: 'no.such.feature' }] }) });
    const err = gqlError(res);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'CATALOG_UNKNOWN_FEATURE' });
    expect(err.message).toMatch(/no\.such\.feature/);
    expect(err.fields).toEqual([{ path: 'input.features.1.key', message: expect.stringMatching(/no feature/) }]);
    expect(limits((await get('SW-UNK')).features)).toEqual({ 'core.use': null });
  });

  it('rejects duplicates, negative limits and a non-positive quantity', async () => {
    const dup = gqlError(await hub.gql(UPSERT, { input: productInput('SW-DUP', { features: [{ key: 'seats' }, { key: 'seats', limit: 1 }] }) }));
    expect(dup).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'CATALOG_DUPLICATE_FEATURE', fields: [{ path: 'input.features.1.key' }] });
    const neg = gqlError(await hub.gql(UPSERT, { input: productInput('SW-DUP', { features: [{ key: 'seats', limit: -1 }] }) }));
    expect(neg).toMatchObject({ code: 'BAD_USER_INPUT', fields: [expect.objectContaining({ path: 'input.features.0.limit' })] });
    const qty = gqlError(await hub.gql(UPSERT, { input: productInput('SW-DUP', { components: [{ sku: 'SW-BASIC', quantity: 0 }] }) }));
    expect(qty).toMatchObject({ code: 'BAD_USER_INPUT', fields: [expect.objectContaining({ path: 'input.components.0.quantity' })] });
    const frac = gqlError(await hub.gql(UPSERT, { input: productInput('SW-DUP', { components: [{ sku: 'SW-BASIC', quantity: 1.5 }] }) }));
    expect(frac.code).toBe('BAD_USER_INPUT');
    const none = await hub.gql(GET, { sku: 'SW-DUP' });
    expect(gqlError(none).code).toBe('NOT_FOUND');
  });

  it('rejects an ssp in another currency, naming input.ssp.currency', async () => {
    const res = await hub.gql(UPSERT, { input: productInput('SW-CUR', { ssp: { amountMinor: 100, currency: 'EUR' } }) });
    const err = gqlError(res);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'CATALOG_CURRENCY_MISMATCH', fields: [{ path: 'input.ssp.currency' }] });
    // A stored ssp in the old currency blocks a currency change that does not restate it.
    await upsert('SW-CUR', { ssp: { amountMinor: 100, currency: 'USD' } });
    const change = gqlError(await hub.gql(UPSERT, { input: productInput('SW-CUR', { listPrice: { amountMinor: 100, currency: 'EUR' } }) }));
    expect(change).toMatchObject({ code: 'BAD_USER_INPUT', fields: [{ path: 'input.ssp.currency' }] });
    const both = await upsert('SW-CUR', { listPrice: { amountMinor: 100, currency: 'EUR' }, ssp: { amountMinor: 90, currency: 'EUR' } });
    expect(both.ssp).toEqual({ amountMinor: '90', currency: 'EUR' });
  });

  it('rejects a wrong enum value for kind, in variables and inline', async () => {
    const viaVars = await hub.gql(UPSERT, { input: productInput('SW-ENUM', { kind: 'GADGET' }) });
    expect(gqlError(viaVars).code).toBe('BAD_USER_INPUT');
    const inline = await hub.gql(`mutation { upsertProduct(input: { sku: "SW-ENUM", name: "x", kind: GADGET,
      listPrice: { amountMinor: 1, currency: "USD" }, defaultModel: PERPETUAL }) { id } }`);
    expect(gqlError(inline).code).toBe('BAD_USER_INPUT');
  });

  it('rejects a missing required field', async () => {
    const { name: _name, ...noName } = productInput('SW-REQ');
    const viaVars = await hub.gql(UPSERT, { input: noName });
    expect(gqlError(viaVars).code).toBe('BAD_USER_INPUT');
    const inline = await hub.gql(`mutation { upsertProduct(input: { sku: "SW-REQ", kind: SAAS,
      listPrice: { amountMinor: 1, currency: "USD" }, defaultModel: PERPETUAL }) { id } }`);
    expect(gqlError(inline).code).toBe('BAD_USER_INPUT');
    const badCurrency = gqlError(await hub.gql(UPSERT, { input: productInput('SW-REQ', { listPrice: { amountMinor: 1, currency: 'usd' } }) }));
    expect(badCurrency).toMatchObject({ code: 'BAD_USER_INPUT', fields: [expect.objectContaining({ path: 'input.listPrice.currency' })] });
  });

  it('product() needs an id or a sku, and an unknown one is NOT_FOUND', async () => {
    expect(gqlError(await hub.gql('{ product { id } }')).code).toBe('BAD_USER_INPUT');
    expect(gqlError(await hub.gql('{ product(sku: "NOPE") { id } }')).code).toBe('NOT_FOUND');
    expect(gqlError(await hub.gql('{ product(id: "not-a-uuid") { id } }')).code).toBe('NOT_FOUND');
  });

  it('searches case-insensitively on sku and name, and filters by kind and status', async () => {
    await upsert('SRCH-1', { name: 'Widget Pro', kind: 'HARDWARE' });
    await upsert('srch-2', { name: 'Gadget', kind: 'IOT_DEVICE' });
    await upsert('OTHER-100%', { name: 'Odd widget' });
    const q = `query($search: String, $kind: ProductKind, $status: CatalogStatus) {
      products(search: $search, kind: $kind, status: $status, first: 100) { totalCount edges { node { sku } } } }`;
    const skus = async (vars: Record<string, unknown>) =>
      (await hub.ok<{ products: { edges: { node: { sku: string } }[] } }>(q, vars)).products.edges.map((e) => e.node.sku).sort();
    expect(await skus({ search: 'srch' })).toEqual(['SRCH-1', 'srch-2']);
    expect(await skus({ search: 'WIDGET' })).toEqual(['OTHER-100%', 'SRCH-1']);
    expect(await skus({ search: '100%' })).toEqual(['OTHER-100%']);
    expect(await skus({ search: '_' })).toEqual([]);
    expect(await skus({ search: 'srch', kind: 'IOT_DEVICE' })).toEqual(['srch-2']);
    await hub.ok('mutation { archiveProduct(sku: "srch-2") { status } }');
    expect(await skus({ search: 'srch', status: 'ACTIVE' })).toEqual(['SRCH-1']);
    expect(await skus({ search: 'srch', status: 'ARCHIVED' })).toEqual(['srch-2']);
  });

  it('pages through 120 products in pages of 50, each exactly once', async () => {
    await Promise.all(Array.from({ length: 120 }, (_, i) => upsert(`PAGE-${String(i).padStart(3, '0')}`)));
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const res: { products: { totalCount: number; edges: { node: { sku: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } =
        await hub.ok(
          `query($after: String) { products(search: "PAGE-", first: 50, after: $after) {
            totalCount edges { node { sku } } pageInfo { hasNextPage endCursor } } }`,
          { after },
        );
      pages++;
      expect(res.products.totalCount).toBe(120);
      seen.push(...res.products.edges.map((e) => e.node.sku));
      if (!res.products.pageInfo.hasNextPage) break;
      after = res.products.pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    expect(seen).toHaveLength(120);
    expect(new Set(seen).size).toBe(120);
  });

  it('creates a new sku once under 10 concurrent identical upserts', async () => {
    const input = productInput('SW-RACE', { features: [{ key: 'seats', limit: 10 }] });
    const results = await Promise.all(Array.from({ length: 10 }, () => hub.gql<{ upsertProduct: { id: string } }>(UPSERT, { input })));
    for (const r of results) expect(r.errors).toBeUndefined();
    expect(new Set(results.map((r) => r.data!.upsertProduct.id)).size).toBe(1);
    const [{ n }] = await hub.ds.query(`SELECT count(*)::int AS n FROM product WHERE sku = 'SW-RACE'`);
    expect(n).toBe(1);
    expect(limits((await get('SW-RACE')).features)).toEqual({ seats: '10' });
  });
});

describe('bundles', () => {
  beforeAll(async () => {
    await feature('b.seats');
    await feature('b.api');
    await feature('b.storage');
  });

  it('flattens features with limits multiplied by quantities, summed across components', async () => {
    await upsert('B-A', { features: [{ key: 'b.seats', limit: 5 }, { key: 'b.api', limit: 1000 }] });
    await upsert('B-S', { features: [{ key: 'b.storage', limit: 0.5 }] });
    const two = await upsert('B-2A', { components: [{ sku: 'B-A', quantity: 2 }] });
    expect(two.isBundle).toBe(true);
    expect(two.components).toEqual([{ product: { sku: 'B-A' }, quantity: 2 }]);
    expect(two.features).toEqual([]);
    expect(limits(two.effectiveFeatures)).toEqual({ 'b.seats': '10', 'b.api': '2000' });

    // Nested: 3 × (2 × A) + 1 × A + 3 × S, plus the suite's own seats grant.
    const suite = await upsert('B-SUITE', {
      kind: 'SAAS',
      features: [{ key: 'b.seats', limit: 1 }],
      components: [
        { sku: 'B-2A', quantity: 3 },
        { sku: 'B-A', quantity: 1 },
        { sku: 'B-S', quantity: 3 },
      ],
    });
    expect(limits(suite.effectiveFeatures)).toEqual({ 'b.seats': '36', 'b.api': '7000', 'b.storage': '1.5' });

    // Unlimited anywhere wins.
    await upsert('B-U', { features: [{ key: 'b.api' }] });
    const withUnlimited = await upsert('B-SUITE2', { components: [{ sku: 'B-SUITE', quantity: 1 }, { sku: 'B-U', quantity: 1 }] });
    expect(limits(withUnlimited.effectiveFeatures)).toEqual({ 'b.seats': '36', 'b.api': null, 'b.storage': '1.5' });

    // The service method later domains call gives the same answer.
    const viaService = await hub.services.catalog.effectiveFeatures(hub.ds.manager, suite.id);
    expect(viaService.map((f) => [f.featureKey, f.limitPerUnit])).toEqual([
      ['b.api', '7000'],
      ['b.seats', '36'],
      ['b.storage', '1.5'],
    ]);
  });

  it('rejects a cycle with CATALOG_BUNDLE_CYCLE and changes nothing', async () => {
    await upsert('C-LEAF');
    await upsert('C-A', { components: [{ sku: 'C-LEAF', quantity: 1 }] });
    await upsert('C-B', { components: [{ sku: 'C-A', quantity: 1 }] });
    const before = await get('C-A');
    const res = await hub.gql(UPSERT, { input: productInput('C-A', { name: 'renamed', components: [{ sku: 'C-LEAF', quantity: 1 }, { sku: 'C-B', quantity: 2 }] }) });
    const err = gqlError(res);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'CATALOG_BUNDLE_CYCLE', fields: [{ path: 'input.components.1.sku' }] });
    expect(err.message).toMatch(/C-A → C-B → C-A/);
    expect(await get('C-A')).toEqual(before);
  });

  it('rejects a product containing itself', async () => {
    await upsert('C-SELF');
    const err = gqlError(await hub.gql(UPSERT, { input: productInput('C-SELF', { components: [{ sku: 'C-SELF', quantity: 1 }] }) }));
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'CATALOG_BUNDLE_CYCLE', fields: [{ path: 'input.components.0.sku' }] });
    expect((await get('C-SELF')).isBundle).toBe(false);
  });

  it('rejects nesting deeper than 4 levels, from below and from above', async () => {
    await upsert('D-1');
    await upsert('D-2', { components: [{ sku: 'D-1', quantity: 1 }] });
    await upsert('D-3', { components: [{ sku: 'D-2', quantity: 1 }] });
    await upsert('D-4', { components: [{ sku: 'D-3', quantity: 1 }] }); // 4 levels: fine
    const below = gqlError(await hub.gql(UPSERT, { input: productInput('D-5', { components: [{ sku: 'D-4', quantity: 1 }] }) }));
    expect(below).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'CATALOG_BUNDLE_TOO_DEEP' });
    expect(gqlError(await hub.gql(GET, { sku: 'D-5' })).code).toBe('NOT_FOUND');
    // Turning the leaf into a bundle would make D-4 five levels deep.
    await upsert('D-0');
    const above = gqlError(await hub.gql(UPSERT, { input: productInput('D-1', { components: [{ sku: 'D-0', quantity: 1 }] }) }));
    expect(above).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'CATALOG_BUNDLE_TOO_DEEP' });
    expect((await get('D-1')).isBundle).toBe(false);
  });

  it('does not let two concurrent upserts build a cycle together', async () => {
    await upsert('R-X');
    await upsert('R-Y');
    const [a, b] = await Promise.all([
      hub.gql(UPSERT, { input: productInput('R-X', { components: [{ sku: 'R-Y', quantity: 1 }] }) }),
      hub.gql(UPSERT, { input: productInput('R-Y', { components: [{ sku: 'R-X', quantity: 1 }] }) }),
    ]);
    const failures = [a, b].filter((r) => r.errors);
    expect(failures).toHaveLength(1);
    expect(gqlError(failures[0]!).subCode).toBe('CATALOG_BUNDLE_CYCLE');
  });

  it('rejects an unknown component sku with its path', async () => {
    const err = gqlError(await hub.gql(UPSERT, { input: productInput('C-UNK', { components: [{ sku: 'C-LEAF', quantity: 1 }, { sku: 'NOPE', quantity: 1 }] }) }));
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'CATALOG_UNKNOWN_PRODUCT', fields: [{ path: 'input.components.1.sku' }] });
  });
});

describe('archive and delete', () => {
  it('archives idempotently and refuses to newly reference an archived item', async () => {
    await feature('x.old');
    await upsert('X-OLD');
    const once = await hub.ok<{ archiveProduct: { status: string; id: string } }>('mutation { archiveProduct(sku: "X-OLD") { id status } }');
    const twice = await hub.ok<{ archiveProduct: { status: string } }>('mutation { archiveProduct(sku: "X-OLD") { status } }');
    expect(once.archiveProduct.status).toBe('ARCHIVED');
    expect(twice.archiveProduct.status).toBe('ARCHIVED');
    // An upsert keeps the status.
    expect((await upsert('X-OLD', { name: 'still archived' })).status).toBe('ARCHIVED');
    const res = await hub.gql(UPSERT, { input: productInput('X-NEW', { components: [{ sku: 'X-OLD', quantity: 1 }] }) });
    expect(gqlError(res)).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'CATALOG_ARCHIVED_REFERENCE', fields: [{ path: 'input.components.0.sku' }] });
    expect((await hub.ok<{ archiveFeature: { status: string } }>('mutation { archiveFeature(key: "x.old") { status } }')).archiveFeature.status).toBe(
      'ARCHIVED',
    );
    expect(gqlError(await hub.gql('mutation { archiveProduct(sku: "X-NONE") { id } }')).code).toBe('NOT_FOUND');
  });

  it('deletes only what nothing refers to; otherwise CONFLICT CATALOG_IN_USE', async () => {
    await feature('del.f');
    await upsert('DEL-C', { features: [{ key: 'del.f', limit: 1 }] });
    await upsert('DEL-B', { components: [{ sku: 'DEL-C', quantity: 1 }] });

    const product = gqlError(await hub.gql('mutation { deleteProduct(sku: "DEL-C") }'));
    expect(product).toMatchObject({ code: 'CONFLICT', subCode: 'CATALOG_IN_USE' });
    expect(product.message).toMatch(/DEL-B.*archive/);
    const feat = gqlError(await hub.gql('mutation { deleteFeature(key: "del.f") }'));
    expect(feat).toMatchObject({ code: 'CONFLICT', subCode: 'CATALOG_IN_USE' });
    expect(feat.message).toMatch(/DEL-C.*archive/);

    expect(await hub.ok('mutation { deleteProduct(sku: "DEL-B") }')).toEqual({ deleteProduct: true });
    expect(await hub.ok('mutation { deleteProduct(sku: "DEL-C") }')).toEqual({ deleteProduct: true });
    expect(await hub.ok('mutation { deleteFeature(key: "del.f") }')).toEqual({ deleteFeature: true });
    expect(gqlError(await hub.gql('mutation { deleteProduct(sku: "DEL-C") }')).code).toBe('NOT_FOUND');
  });
});

describe('meters', () => {
  const UPSERT_METER = `mutation($input: UpsertMeterInput!) { upsertMeter(input: $input) {
    id key name aggregation unit valueProperty featureKey feature { key } status } }`;

  it('upserts by key with its feature, idempotently', async () => {
    await feature('m.api');
    const input = { key: 'api.calls', name: 'API calls', aggregation: 'SUM', unit: 'calls', valueProperty: 'count', featureKey: 'm.api' };
    const first = await hub.ok<{ upsertMeter: Record<string, unknown> }>(UPSERT_METER, { input });
    const second = await hub.ok<{ upsertMeter: Record<string, unknown> }>(UPSERT_METER, { input });
    expect(second).toEqual(first);
    expect(first.upsertMeter).toMatchObject({ key: 'api.calls', aggregation: 'SUM', featureKey: 'm.api', feature: { key: 'm.api' }, status: 'ACTIVE' });
    expect(await auditCount(first.upsertMeter.id as string)).toBe(1);
    const list = await hub.ok<{ meters: { edges: { node: { key: string } }[] } }>('{ meters(search: "API") { edges { node { key } } } }');
    expect(list.meters.edges.map((e) => e.node.key)).toEqual(['api.calls']);
    expect((await hub.ok<{ meter: { unit: string } }>('{ meter(key: "api.calls") { unit } }')).meter.unit).toBe('calls');

    // The feature is now in use by the meter.
    expect(gqlError(await hub.gql('mutation { deleteFeature(key: "m.api") }'))).toMatchObject({ code: 'CONFLICT', subCode: 'CATALOG_IN_USE' });
    const archived = await hub.ok<{ archiveMeter: { status: string } }>('mutation { archiveMeter(key: "api.calls") { status } }');
    expect(archived.archiveMeter.status).toBe('ARCHIVED');
    expect(await hub.ok('mutation { deleteMeter(key: "api.calls") }')).toEqual({ deleteMeter: true });
  });

  it('rejects an unknown feature key and a UNIQUE_COUNT without valueProperty', async () => {
    const unknown = gqlError(
      await hub.gql(UPSERT_METER, { input: { key: 'm.x', name: 'x', aggregation: 'COUNT', unit: 'events', featureKey: 'no.such' } }),
    );
    expect(unknown).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'CATALOG_UNKNOWN_FEATURE', fields: [{ path: 'input.featureKey' }] });
    const unique = gqlError(await hub.gql(UPSERT_METER, { input: { key: 'm.users', name: 'Users', aggregation: 'UNIQUE_COUNT', unit: 'users' } }));
    expect(unique).toMatchObject({ code: 'BAD_USER_INPUT', subCode: 'CATALOG_METER_VALUE_PROPERTY_REQUIRED' });
    const ok = await hub.ok<{ upsertMeter: { valueProperty: string } }>(UPSERT_METER, {
      input: { key: 'm.users', name: 'Users', aggregation: 'UNIQUE_COUNT', unit: 'users', valueProperty: 'userId' },
    });
    expect(ok.upsertMeter.valueProperty).toBe('userId');
  });
});

describe('who may change the catalog', () => {
  it('any key reads; READONLY and account-scoped keys cannot upsert (FORBIDDEN)', async () => {
    const readonly = await hub.createKey(Role.READONLY);
    expect((await hub.ok<{ products: { totalCount: number } }>('{ products { totalCount } }', {}, readonly)).products.totalCount).toBeGreaterThan(0);
    const denied = await hub.gql(UPSERT, { input: productInput('AUTH-1') }, readonly);
    expect(gqlError(denied).code).toBe('FORBIDDEN');

    // An account-scoped ADMIN key (the account row made directly: this suite tests the catalog, not accounts).
    const [account] = await hub.ds.query(`INSERT INTO account (name) VALUES ('Scoped customer') RETURNING id`);
    const scoped = await hub.createKey(Role.ADMIN, account.id);
    expect((await hub.ok<{ products: { totalCount: number } }>('{ products { totalCount } }', {}, scoped)).products.totalCount).toBeGreaterThan(0);
    const scopedDenied = gqlError(await hub.gql(UPSERT, { input: productInput('AUTH-1') }, scoped));
    expect(scopedDenied).toMatchObject({ code: 'FORBIDDEN', subCode: 'AUTH_ACCOUNT_SCOPED_KEY' });
    expect(gqlError(await hub.gql('mutation { upsertFeature(input: { key: "auth.f", name: "x" }) { id } }', {}, scoped)).code).toBe('FORBIDDEN');
    expect(gqlError(await hub.gql(GET, { sku: 'AUTH-1' })).code).toBe('NOT_FOUND');
  });
});

describe('query cost', () => {
  const LIST = `query($search: String) { products(first: 100, search: $search) { edges { node {
    sku isBundle features { feature { key } limit } components { product { sku features { feature { key } } } quantity }
    effectiveFeatures { feature { key } limit } } } } }`;

  it('runs a fixed number of SQL statements however many products are listed (no N+1)', async () => {
    await feature('n.f1');
    await feature('n.f2');
    const make = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        await upsert(`NPO-LEAF-${i}`, { features: [{ key: 'n.f1', limit: i + 1 }, { key: 'n.f2' }] });
        await upsert(`NPO-BUN-${i}`, { features: [{ key: 'n.f2', limit: 1 }], components: [{ sku: `NPO-LEAF-${i}`, quantity: 2 }] });
      }
    };
    await make(0, 5); // 10 products
    const small = await hub.countQueries(() => hub.ok<{ products: { edges: unknown[] } }>(LIST, { search: 'NPO-' }));
    expect(small.result.products.edges).toHaveLength(10);
    await make(5, 15); // 30 products
    const large = await hub.countQueries(() => hub.ok<{ products: { edges: unknown[] } }>(LIST, { search: 'NPO-' }));
    expect(large.result.products.edges).toHaveLength(30);
    expect(large.count).toBe(small.count);
    expect(large.count).toBeLessThanOrEqual(10);
  });

  it('rejects a query nested 30 levels deep', async () => {
    let inner = 'sku';
    for (let i = 0; i < 30; i++) inner = `components { product { ${inner} } }`;
    const res = await hub.gql(`query Deep { products { edges { node { ${inner} } } } }`);
    expect(res.status).toBe(400);
    expect(res.errors?.[0]?.message).toMatch(/exceeds maximum operation depth/);
  });
});
