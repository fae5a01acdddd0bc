import { isUuid } from '../common/ids';
import type { EntityManager } from 'typeorm';
import { assertUnscoped } from '../auth/scope';
import type { RequestContext } from '../common/context';
import { badInput, conflict, notFound, type FieldError } from '../common/errors';
import { money } from '../common/money';
import { likePattern, paginate, type Connection } from '../common/pagination';
import type { Db, Tx } from '../db/db';
import { Feature, Meter, Product } from './catalog.entities';
import { CatalogStatus, MeterAggregation } from './catalog.enums';
import { catalogRepository, type EffectiveFeature } from './catalog.repository';
import { MAX_BUNDLE_LEVELS, bundleLevels, duplicateFields, limitToDecimal, sameEntries } from './catalog.rules';
import type { CatalogListArgs, ProductsArgs, UpsertFeatureInput, UpsertMeterInput, UpsertProductInput } from './catalog.types';

export type { EffectiveFeature } from './catalog.repository';

/** Serialises every change to bundle components, so two concurrent upserts cannot build a cycle together. */
const BUNDLE_LOCK = 'ehub:catalog:bundles';
const FOREIGN_KEY_VIOLATION = '23503';

function pgCode(err: unknown): string | undefined {
  return (err as { driverError?: { code?: string } }).driverError?.code ?? (err as { code?: string }).code;
}

/** Omitted (undefined) keeps the stored value; null clears it. */
function keepOr<T>(given: T | undefined, stored: T): T {
  return given === undefined ? stored : given;
}

/**
 * The product catalog: products (plain or bundles), features they grant, and meters.
 * Items are upserted by their business key (sku / key), archived once in use, and hard
 * deleted only while nothing refers to them.
 */
export class CatalogService {
  constructor(readonly db: Db) {}

  // ---------------------------------------------------------------- reads

  async listProducts(_ctx: RequestContext, args: ProductsArgs): Promise<Connection<Product>> {
    const qb = this.db.manager.createQueryBuilder(Product, 'p');
    if (args.search) qb.andWhere('(p.sku ILIKE :q OR p.name ILIKE :q)', { q: likePattern(args.search) });
    if (args.kind) qb.andWhere('p.kind = :kind', { kind: args.kind });
    if (args.status) qb.andWhere('p.status = :status', { status: args.status });
    return paginate(qb, 'p', args);
  }

  /** A product by id or sku (at least one; both must then match the same product). */
  async getProduct(_ctx: RequestContext, ref: { id?: string | null; sku?: string | null }): Promise<Product> {
    if (!ref.id && !ref.sku) {
      throw badInput('CATALOG_PRODUCT_REF_REQUIRED', 'Give the product id or sku', [
        { path: 'id', message: 'id or sku is required' },
        { path: 'sku', message: 'id or sku is required' },
      ]);
    }
    const label = ref.sku ?? ref.id!;
    if (ref.id && !isUuid(ref.id)) throw notFound('Product', ref.id);
    const product = await this.db.manager.findOneBy(Product, { ...(ref.id ? { id: ref.id } : {}), ...(ref.sku ? { sku: ref.sku } : {}) });
    if (!product) throw notFound('Product', label);
    return product;
  }

  async listFeatures(_ctx: RequestContext, args: CatalogListArgs): Promise<Connection<Feature>> {
    const qb = this.db.manager.createQueryBuilder(Feature, 'f');
    if (args.search) qb.andWhere('(f.key ILIKE :q OR f.name ILIKE :q)', { q: likePattern(args.search) });
    if (args.status) qb.andWhere('f.status = :status', { status: args.status });
    return paginate(qb, 'f', args);
  }

  async getFeature(_ctx: RequestContext, key: string): Promise<Feature> {
    const feature = await this.db.manager.findOneBy(Feature, { key });
    if (!feature) throw notFound('Feature', key);
    return feature;
  }

  async listMeters(_ctx: RequestContext, args: CatalogListArgs): Promise<Connection<Meter>> {
    const qb = this.db.manager.createQueryBuilder(Meter, 'm');
    if (args.search) qb.andWhere('(m.key ILIKE :q OR m.name ILIKE :q)', { q: likePattern(args.search) });
    if (args.status) qb.andWhere('m.status = :status', { status: args.status });
    return paginate(qb, 'm', args);
  }

  async getMeter(_ctx: RequestContext, key: string): Promise<Meter> {
    const meter = await this.db.manager.findOneBy(Meter, { key });
    if (!meter) throw notFound('Meter', key);
    return meter;
  }

  /**
   * The features one unit of a product grants once its bundle is flattened: its own
   * grants plus those of its components, recursively, with each limit multiplied by the
   * component quantities on the way down. The same feature reached through several
   * components is summed; an unlimited grant (null) anywhere makes it unlimited.
   * For orders → entitlements: pass the transaction's manager so it reads what the
   * transaction sees. Sorted by feature key; empty for an unknown product.
   */
  async effectiveFeatures(manager: EntityManager, productId: string): Promise<EffectiveFeature[]> {
    return (await catalogRepository.effectiveFeatures(manager, [productId])).get(productId) ?? [];
  }

  /** `effectiveFeatures` for many products in one statement, keyed by product id. */
  async effectiveFeaturesMany(manager: EntityManager, productIds: readonly string[]): Promise<Map<string, EffectiveFeature[]>> {
    return catalogRepository.effectiveFeatures(manager, productIds);
  }

  /** Products by sku with their flattened features, in one statement (for orders), keyed by sku. */
  async productsWithFeaturesBySku(manager: EntityManager, skus: readonly string[]): Promise<Map<string, { product: Product; effective: EffectiveFeature[] }>> {
    return catalogRepository.productsWithFeaturesBySku(manager, skus);
  }

  /** Products by sku in one statement (for orders and connectors), keyed by sku. */
  async productsBySku(manager: EntityManager, skus: readonly string[]): Promise<Map<string, Product>> {
    if (skus.length === 0) return new Map();
    const rows = await manager.createQueryBuilder(Product, 'p').where('p.sku = ANY(:skus)', { skus }).getMany();
    return new Map(rows.map((p) => [p.sku, p]));
  }

  // ---------------------------------------------------------------- products

  /**
   * Creates or updates a product by sku. `features` and `components`, when given, replace
   * the stored lists. Safe to retry and to race: the same input twice leaves the same
   * state, and concurrent upserts of a new sku create it once.
   */
  async upsertProduct(ctx: RequestContext, input: UpsertProductInput): Promise<Product> {
    assertUnscoped(ctx, 'change the catalog');
    this.validateProductInput(input);
    const grants = input.features?.map((f) => ({ key: f.key, limit: limitToDecimal(f.limit) })) ?? null;

    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      // Taken before any row lock, by every transaction that changes components: one order, no deadlock.
      if (input.components) await m.query('SELECT pg_advisory_xact_lock(hashtext($1))', [BUNDLE_LOCK]);

      const { row: stored, created } = await this.lockOrCreateProduct(m, input);
      const before = created ? null : await this.productSnapshot(m, stored);
      let changed = created;

      if (!created) {
        const sspMinor = input.ssp === undefined ? stored.sspMinor : (input.ssp?.amountMinor ?? null);
        if (input.ssp === undefined && sspMinor !== null && stored.currency !== input.listPrice.currency) {
          throw badInput(
            'CATALOG_CURRENCY_MISMATCH',
            `The stored standalone selling price is in ${stored.currency}; send ssp in ${input.listPrice.currency} (or null) with the new list price`,
            [{ path: 'input.ssp.currency', message: `must be ${input.listPrice.currency}, like the list price` }],
          );
        }
        const next = {
          name: input.name,
          description: keepOr(input.description, stored.description),
          kind: input.kind,
          currency: input.listPrice.currency,
          listPriceMinor: BigInt(input.listPrice.amountMinor).toString(),
          sspMinor: sspMinor === null ? null : BigInt(sspMinor).toString(),
          defaultModel: input.defaultModel,
        };
        const current = {
          name: stored.name,
          description: stored.description,
          kind: stored.kind,
          currency: stored.currency,
          listPriceMinor: stored.listPriceMinor,
          sspMinor: stored.sspMinor,
          defaultModel: stored.defaultModel,
        };
        if (JSON.stringify(next) !== JSON.stringify(current)) {
          await m.update(Product, { id: stored.id }, next);
          changed = true;
        }
      }

      if (grants) changed = (await this.replaceGrants(m, stored.id, grants)) || changed;
      if (input.components) changed = (await this.replaceComponents(m, stored, input.components)) || changed;

      if (changed && !created) await m.query('UPDATE product SET updated_at = now() WHERE id = $1', [stored.id]);
      const product = await m.findOneByOrFail(Product, { id: stored.id });
      if (changed) {
        tx.audit({
          entity: 'Product',
          entityId: product.id,
          action: created ? 'CREATE' : 'UPDATE',
          before,
          after: await this.productSnapshot(m, product),
        });
      }
      return product;
    });
  }

  /** Marks a product ARCHIVED (idempotent): it stays for what refers to it but is no longer offered. */
  async archiveProduct(ctx: RequestContext, sku: string): Promise<Product> {
    assertUnscoped(ctx, 'change the catalog');
    return this.db.tx(ctx, (tx) => this.archive(tx, Product, 'Product', { sku }, sku));
  }

  /** Deletes a product that nothing refers to; otherwise CONFLICT CATALOG_IN_USE (archive it instead). */
  async deleteProduct(ctx: RequestContext, sku: string): Promise<boolean> {
    assertUnscoped(ctx, 'change the catalog');
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      const product = await m.createQueryBuilder(Product, 'p').setLock('pessimistic_write').where('p.sku = :sku', { sku }).getOne();
      if (!product) throw notFound('Product', sku);
      const bundles: { sku: string }[] = await m.query(
        `SELECT b.sku FROM product_component pc JOIN product b ON b.id = pc.bundle_id
          WHERE pc.component_id = $1 ORDER BY b.sku LIMIT 5`,
        [product.id],
      );
      if (bundles.length > 0) {
        throw conflict(
          'CATALOG_IN_USE',
          `Product ${sku} is a component of ${bundles.map((b) => b.sku).join(', ')}; remove it from those bundles or archive it instead (archiveProduct)`,
          { usedBy: bundles.map((b) => ({ entity: 'Product', sku: b.sku })) },
        );
      }
      const before = await this.productSnapshot(m, product);
      // Its own grants and components go with it (ON DELETE CASCADE).
      await this.deleteOrConflict(m, 'product', product.id, `Product ${sku}`, 'archiveProduct');
      tx.audit({ entity: 'Product', entityId: product.id, action: 'DELETE', before });
      return true;
    });
  }

  // ---------------------------------------------------------------- features

  async upsertFeature(ctx: RequestContext, input: UpsertFeatureInput): Promise<Feature> {
    assertUnscoped(ctx, 'change the catalog');
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      const { row, created } = await this.lockOrInsert(
        () => m.createQueryBuilder(Feature, 'f').setLock('for_no_key_update').where('f.key = :key', { key: input.key }).getOne(),
        () =>
          m.query(`INSERT INTO feature (key, name, description) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING RETURNING id`, [
            input.key,
            input.name,
            input.description ?? null,
          ]),
      );
      if (created) {
        tx.audit({ entity: 'Feature', entityId: row.id, action: 'CREATE', after: row });
        return row;
      }
      const next = { name: input.name, description: keepOr(input.description, row.description) };
      if (next.name === row.name && next.description === row.description) return row;
      await m.update(Feature, { id: row.id }, next);
      const after = await m.findOneByOrFail(Feature, { id: row.id });
      tx.audit({ entity: 'Feature', entityId: row.id, action: 'UPDATE', before: row, after });
      return after;
    });
  }

  async archiveFeature(ctx: RequestContext, key: string): Promise<Feature> {
    assertUnscoped(ctx, 'change the catalog');
    return this.db.tx(ctx, (tx) => this.archive(tx, Feature, 'Feature', { key }, key));
  }

  async deleteFeature(ctx: RequestContext, key: string): Promise<boolean> {
    assertUnscoped(ctx, 'change the catalog');
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      const feature = await m.createQueryBuilder(Feature, 'f').setLock('pessimistic_write').where('f.key = :key', { key }).getOne();
      if (!feature) throw notFound('Feature', key);
      const users: { entity: string; key: string }[] = await m.query(
        `(SELECT 'Product' AS entity, p.sku AS key FROM product_feature pf JOIN product p ON p.id = pf.product_id
           WHERE pf.feature_id = $1 ORDER BY p.sku LIMIT 5)
         UNION ALL
         (SELECT 'Meter', mt.key FROM meter mt WHERE mt.feature_id = $1 ORDER BY mt.key LIMIT 5)`,
        [feature.id],
      );
      if (users.length > 0) {
        throw conflict(
          'CATALOG_IN_USE',
          `Feature ${key} is used by ${users.map((u) => `${u.entity.toLowerCase()} ${u.key}`).join(', ')}; archive it instead (archiveFeature)`,
          { usedBy: users },
        );
      }
      await this.deleteOrConflict(m, 'feature', feature.id, `Feature ${key}`, 'archiveFeature');
      tx.audit({ entity: 'Feature', entityId: feature.id, action: 'DELETE', before: feature });
      return true;
    });
  }

  // ---------------------------------------------------------------- meters

  async upsertMeter(ctx: RequestContext, input: UpsertMeterInput): Promise<Meter> {
    assertUnscoped(ctx, 'change the catalog');
    if (input.aggregation === MeterAggregation.UNIQUE_COUNT && !input.valueProperty) {
      throw badInput('CATALOG_METER_VALUE_PROPERTY_REQUIRED', 'A UNIQUE_COUNT meter counts distinct values of a property: give valueProperty', [
        { path: 'input.valueProperty', message: 'is required for UNIQUE_COUNT' },
      ]);
    }
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      let featureId: string | null | undefined = undefined;
      if (input.featureKey) {
        const feature = await m.findOneBy(Feature, { key: input.featureKey });
        if (!feature) {
          throw badInput('CATALOG_UNKNOWN_FEATURE', `There is no feature with key ${input.featureKey}; create it first (upsertFeature)`, [
            { path: 'input.featureKey', message: `no feature with key "${input.featureKey}"` },
          ]);
        }
        featureId = feature.id;
      } else if (input.featureKey === null) {
        featureId = null;
      }
      const { row, created } = await this.lockOrInsert(
        () => m.createQueryBuilder(Meter, 'm').setLock('for_no_key_update').where('m.key = :key', { key: input.key }).getOne(),
        () =>
          m.query(
            `INSERT INTO meter (key, name, aggregation, unit, value_property, feature_id) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (key) DO NOTHING RETURNING id`,
            [input.key, input.name, input.aggregation, input.unit, input.valueProperty ?? null, featureId ?? null],
          ),
      );
      const next = {
        name: input.name,
        aggregation: input.aggregation,
        unit: input.unit,
        valueProperty: keepOr(input.valueProperty, row.valueProperty),
        featureId: keepOr(featureId, row.featureId),
      };
      if (created) {
        tx.audit({ entity: 'Meter', entityId: row.id, action: 'CREATE', after: row });
        return row;
      }
      const current = { name: row.name, aggregation: row.aggregation, unit: row.unit, valueProperty: row.valueProperty, featureId: row.featureId };
      if (JSON.stringify(next) === JSON.stringify(current)) return row;
      await m.update(Meter, { id: row.id }, next);
      const after = await m.findOneByOrFail(Meter, { id: row.id });
      tx.audit({ entity: 'Meter', entityId: row.id, action: 'UPDATE', before: row, after });
      return after;
    });
  }

  async archiveMeter(ctx: RequestContext, key: string): Promise<Meter> {
    assertUnscoped(ctx, 'change the catalog');
    return this.db.tx(ctx, (tx) => this.archive(tx, Meter, 'Meter', { key }, key));
  }

  async deleteMeter(ctx: RequestContext, key: string): Promise<boolean> {
    assertUnscoped(ctx, 'change the catalog');
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      const meter = await m.createQueryBuilder(Meter, 'm').setLock('pessimistic_write').where('m.key = :key', { key }).getOne();
      if (!meter) throw notFound('Meter', key);
      await this.deleteOrConflict(m, 'meter', meter.id, `Meter ${key}`, 'archiveMeter');
      tx.audit({ entity: 'Meter', entityId: meter.id, action: 'DELETE', before: meter });
      return true;
    });
  }

  // ---------------------------------------------------------------- internals

  /** Input checks that need no database: currencies, amounts, duplicates, self-reference. */
  private validateProductInput(input: UpsertProductInput): void {
    const fields: FieldError[] = [];
    if (BigInt(input.listPrice.amountMinor) < 0n) fields.push({ path: 'input.listPrice.amountMinor', message: 'must not be negative' });
    if (input.ssp && BigInt(input.ssp.amountMinor) < 0n) fields.push({ path: 'input.ssp.amountMinor', message: 'must not be negative' });
    if (fields.length) throw badInput('CATALOG_NEGATIVE_PRICE', 'Prices must not be negative', fields);

    if (input.ssp && input.ssp.currency !== input.listPrice.currency) {
      throw badInput(
        'CATALOG_CURRENCY_MISMATCH',
        `The standalone selling price must be in the list price's currency (${input.listPrice.currency}), not ${input.ssp.currency}`,
        [{ path: 'input.ssp.currency', message: `must be ${input.listPrice.currency}, like the list price` }],
      );
    }
    const dupFeatures = duplicateFields(input.features ?? [], (f) => f.key, (i) => `input.features.${i}.key`);
    if (dupFeatures.length) throw badInput('CATALOG_DUPLICATE_FEATURE', 'Each feature may be listed once per product', dupFeatures);
    const dupComponents = duplicateFields(input.components ?? [], (c) => c.sku, (i) => `input.components.${i}.sku`);
    if (dupComponents.length) {
      throw badInput('CATALOG_DUPLICATE_COMPONENT', 'Each component may be listed once per bundle; use its quantity instead', dupComponents);
    }
    const self = (input.components ?? []).findIndex((c) => c.sku === input.sku);
    if (self >= 0) {
      throw badInput('CATALOG_BUNDLE_CYCLE', `A bundle cannot contain itself: ${input.sku} → ${input.sku}`, [
        { path: `input.components.${self}.sku`, message: 'is the product itself' },
      ]);
    }
  }

  /** Finds and locks the product by sku, or inserts it; a concurrent insert of the same sku is waited for, not duplicated. */
  private lockOrCreateProduct(m: EntityManager, input: UpsertProductInput): Promise<{ row: Product; created: boolean }> {
    return this.lockOrInsert(
      () => m.createQueryBuilder(Product, 'p').setLock('for_no_key_update').where('p.sku = :sku', { sku: input.sku }).getOne(),
      () =>
        m.query(
          `INSERT INTO product (sku, name, description, kind, currency, list_price_minor, ssp_minor, default_model)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (sku) DO NOTHING RETURNING id`,
          [
            input.sku,
            input.name,
            input.description ?? null,
            input.kind,
            input.listPrice.currency,
            input.listPrice.amountMinor,
            input.ssp?.amountMinor ?? null,
            input.defaultModel,
          ],
        ),
    );
  }

  /**
   * Lock-or-insert for upserts by business key. `INSERT ... ON CONFLICT DO NOTHING` waits
   * for a concurrent insert of the same key; if that one wins, we lock and update its row.
   */
  private async lockOrInsert<T>(
    select: () => Promise<T | null>,
    insert: () => Promise<{ id: string }[]>,
  ): Promise<{ row: T; created: boolean }> {
    const existing = await select();
    if (existing) return { row: existing, created: false };
    const inserted = await insert();
    const row = await select();
    if (!row) throw new Error('upsert: row vanished between insert and select');
    return { row, created: inserted.length > 0 };
  }

  /** Replaces a product's grants when they differ; returns whether anything changed. */
  private async replaceGrants(m: EntityManager, productId: string, grants: { key: string; limit: string | null }[]): Promise<boolean> {
    const features = await this.resolveRefs(
      m,
      'feature',
      'key',
      grants.map((g) => g.key),
      (i) => `input.features.${i}.key`,
      `SELECT feature_id AS id FROM product_feature WHERE product_id = $1`,
      productId,
    );
    const next = grants.map((g) => ({ featureId: features.get(g.key)!, limit: g.limit }));
    const current: { featureId: string; limit: string | null }[] = await m.query(
      `SELECT feature_id AS "featureId", trim_scale(limit_per_unit)::text AS "limit" FROM product_feature WHERE product_id = $1`,
      [productId],
    );
    if (sameEntries(current, next, (g) => `${g.featureId}|${g.limit}`)) return false;
    await m.query('DELETE FROM product_feature WHERE product_id = $1', [productId]);
    if (next.length > 0) {
      await m.query(
        `INSERT INTO product_feature (product_id, feature_id, limit_per_unit)
         SELECT $1, f, trim_scale(l) FROM unnest($2::uuid[], $3::numeric[]) AS g(f, l)`,
        [productId, next.map((g) => g.featureId), next.map((g) => g.limit)],
      );
    }
    return true;
  }

  /**
   * Replaces a bundle's components when they differ, then checks the bundle graph: no
   * cycle through this product and no tree deeper than MAX_BUNDLE_LEVELS. Runs under the
   * bundle advisory lock, so the graph it checks is the one it commits.
   */
  private async replaceComponents(m: EntityManager, bundle: Product, components: { sku: string; quantity: number }[]): Promise<boolean> {
    const products = await this.resolveRefs(
      m,
      'product',
      'sku',
      components.map((c) => c.sku),
      (i) => `input.components.${i}.sku`,
      `SELECT component_id AS id FROM product_component WHERE bundle_id = $1`,
      bundle.id,
    );
    const next = components.map((c) => ({ componentId: products.get(c.sku)!, quantity: c.quantity }));
    const current: { componentId: string; quantity: number }[] = await m.query(
      `SELECT component_id AS "componentId", quantity FROM product_component WHERE bundle_id = $1`,
      [bundle.id],
    );
    if (sameEntries(current, next, (c) => `${c.componentId}|${c.quantity}`)) return false;
    await m.query('DELETE FROM product_component WHERE bundle_id = $1', [bundle.id]);
    if (next.length === 0) return true;
    await m.query(
      `INSERT INTO product_component (bundle_id, component_id, quantity)
       SELECT $1, c, q FROM unnest($2::uuid[], $3::int[]) AS x(c, q)`,
      [bundle.id, next.map((c) => c.componentId), next.map((c) => c.quantity)],
    );

    const shape = await catalogRepository.bundleShape(m, bundle.id);
    if (shape.cycle) {
      const index = components.findIndex((c) => c.sku === shape.cycle![1]);
      throw badInput('CATALOG_BUNDLE_CYCLE', `A bundle cannot contain itself, even indirectly: ${shape.cycle.join(' → ')}`, [
        { path: `input.components.${index}.sku`, message: `${shape.cycle[1]} already contains ${bundle.sku}` },
      ]);
    }
    const levels = bundleLevels(shape.above, shape.below);
    if (levels > MAX_BUNDLE_LEVELS) {
      throw badInput(
        'CATALOG_BUNDLE_TOO_DEEP',
        `Bundles nest at most ${MAX_BUNDLE_LEVELS} levels (a bundle of bundles of bundles of products); with these components ${bundle.sku} would be part of a tree ${levels} levels deep`,
        [{ path: 'input.components', message: `would nest ${levels} levels deep (at most ${MAX_BUNDLE_LEVELS})` }],
      );
    }
    return true;
  }

  /**
   * Looks up referenced catalog items by business key in one statement. Unknown keys, and
   * archived items not already referenced (`currentSql`), are bad input naming each path.
   */
  private async resolveRefs(
    m: EntityManager,
    table: 'feature' | 'product',
    column: 'key' | 'sku',
    keys: string[],
    path: (index: number) => string,
    currentSql: string,
    ownerId: string,
  ): Promise<Map<string, string>> {
    if (keys.length === 0) return new Map();
    const rows: { id: string; ref: string; status: CatalogStatus }[] = await m.query(
      `SELECT id, ${column} AS ref, status FROM ${table} WHERE ${column} = ANY($1::text[])`,
      [keys],
    );
    const found = new Map(rows.map((r) => [r.ref, r]));
    const what = table === 'feature' ? 'feature with key' : 'product with sku';
    const unknown: FieldError[] = keys.flatMap((k, i) => (found.has(k) ? [] : [{ path: path(i), message: `no ${what} "${k}"` }]));
    if (unknown.length) {
      const hint = table === 'feature' ? 'create it first (upsertFeature)' : 'create it first (upsertProduct)';
      throw badInput(
        table === 'feature' ? 'CATALOG_UNKNOWN_FEATURE' : 'CATALOG_UNKNOWN_PRODUCT',
        `Unknown ${what} ${unknown.map((u) => u.message.slice(u.message.indexOf('"'))).join(', ')}; ${hint}`,
        unknown,
      );
    }
    if (rows.some((r) => r.status === CatalogStatus.ARCHIVED)) {
      const current = new Set(((await m.query(currentSql, [ownerId])) as { id: string }[]).map((r) => r.id));
      const archived: FieldError[] = keys.flatMap((k, i) => {
        const r = found.get(k)!;
        return r.status === CatalogStatus.ARCHIVED && !current.has(r.id) ? [{ path: path(i), message: `"${k}" is archived` }] : [];
      });
      if (archived.length) {
        throw badInput('CATALOG_ARCHIVED_REFERENCE', `Archived ${table}s cannot be newly added; ${archived.map((a) => a.message).join(', ')}`, archived);
      }
    }
    return new Map(rows.map((r) => [r.ref, r.id]));
  }

  private async archive<T extends Product | Feature | Meter>(
    tx: Tx,
    entity: new () => T,
    name: 'Product' | 'Feature' | 'Meter',
    where: { sku: string } | { key: string },
    label: string,
  ): Promise<T> {
    const [[column, value]] = Object.entries(where) as [[string, string]];
    const row = await tx.manager
      .createQueryBuilder(entity, 'x')
      .setLock('for_no_key_update')
      .where(`x.${column} = :value`, { value })
      .getOne();
    if (!row) throw notFound(name, label);
    if (row.status === CatalogStatus.ARCHIVED) return row;
    await tx.manager.query(`UPDATE ${name.toLowerCase()} SET status = 'ARCHIVED', updated_at = now() WHERE id = $1`, [row.id]);
    const after = await tx.manager.findOneByOrFail(entity as new () => Product | Feature | Meter, { id: row.id });
    tx.audit({ entity: name, entityId: row.id, action: 'ARCHIVE', before: row, after });
    return after as T;
  }

  /** Deletes a row; a foreign key from a later domain (orders, usage) means it is in use. */
  private async deleteOrConflict(m: EntityManager, table: string, id: string, label: string, archiveOp: string): Promise<void> {
    try {
      await m.query(`DELETE FROM ${table} WHERE id = $1`, [id]);
    } catch (err) {
      if (pgCode(err) !== FOREIGN_KEY_VIOLATION) throw err;
      throw conflict('CATALOG_IN_USE', `${label} is referenced by other records; archive it instead (${archiveOp})`);
    }
  }

  /** The product as the audit log records it: prices as Money, grants and components by business key. */
  private async productSnapshot(m: EntityManager, p: Product): Promise<Record<string, unknown>> {
    const features: { key: string; limit: string | null }[] = await m.query(
      `SELECT f.key, trim_scale(pf.limit_per_unit)::text AS "limit"
         FROM product_feature pf JOIN feature f ON f.id = pf.feature_id WHERE pf.product_id = $1 ORDER BY f.key`,
      [p.id],
    );
    const components: { sku: string; quantity: number }[] = await m.query(
      `SELECT c.sku, pc.quantity FROM product_component pc JOIN product c ON c.id = pc.component_id
        WHERE pc.bundle_id = $1 ORDER BY c.sku`,
      [p.id],
    );
    return {
      id: p.id,
      sku: p.sku,
      name: p.name,
      description: p.description,
      kind: p.kind,
      listPrice: money(p.listPriceMinor, p.currency),
      ssp: money(p.sspMinor, p.currency),
      defaultModel: p.defaultModel,
      status: p.status,
      features,
      components,
    };
  }
}
