import type { EntityManager } from 'typeorm';
import { preparedTx } from '../db/db';
import { Feature, Product, ProductComponent, ProductFeature } from './catalog.entities';
import { MAX_BUNDLE_LEVELS } from './catalog.rules';
import { groupBy } from '../common/collections';

/** One feature a product grants once its bundle is flattened. */
export interface EffectiveFeature {
  featureId: string;
  featureKey: string;
  /** Per unit of the product, as a decimal string; null = unlimited. */
  limitPerUnit: string | null;
}

/** Recursion guard for queries over the bundle graph: a little deeper than any valid tree. */
const GRAPH_GUARD = MAX_BUNDLE_LEVELS + 2;

/** Batched reads of the catalog, shared by the service and the per-request DataLoaders. */
export const catalogRepository = {
  async productsByIds(m: EntityManager, ids: readonly string[]): Promise<Map<string, Product>> {
    if (ids.length === 0) return new Map();
    const rows = await m.createQueryBuilder(Product, 'p').where('p.id = ANY(:ids)', { ids }).getMany();
    return new Map(rows.map((p) => [p.id, p]));
  },

  async featuresByIds(m: EntityManager, ids: readonly string[]): Promise<Map<string, Feature>> {
    if (ids.length === 0) return new Map();
    const rows = await m.createQueryBuilder(Feature, 'f').where('f.id = ANY(:ids)', { ids }).getMany();
    return new Map(rows.map((f) => [f.id, f]));
  },

  /** The grants of each product, by feature key. */
  async grantsByProduct(m: EntityManager, productIds: readonly string[]): Promise<Map<string, ProductFeature[]>> {
    const rows = await m
      .createQueryBuilder(ProductFeature, 'pf')
      .innerJoin(Feature, 'f', 'f.id = pf.featureId')
      .where('pf.productId = ANY(:ids)', { ids: productIds })
      .orderBy('f.key', 'ASC')
      .getMany();
    return groupBy(rows, (r) => r.productId, productIds);
  },

  /** The components of each bundle, by component sku. */
  async componentsByBundle(m: EntityManager, bundleIds: readonly string[]): Promise<Map<string, ProductComponent[]>> {
    const rows = await m
      .createQueryBuilder(ProductComponent, 'pc')
      .innerJoin(Product, 'c', 'c.id = pc.componentId')
      .where('pc.bundleId = ANY(:ids)', { ids: bundleIds })
      .orderBy('c.sku', 'ASC')
      .getMany();
    return groupBy(rows, (r) => r.bundleId, bundleIds);
  },

  /**
   * The flattened features of each product: its own grants plus those of its components,
   * recursively, each limit multiplied by the quantities on the way down; the same feature
   * reached several ways is summed, and unlimited (null) anywhere makes it unlimited.
   */
  async effectiveFeatures(m: EntityManager, productIds: readonly string[]): Promise<Map<string, EffectiveFeature[]>> {
    const rows: (EffectiveFeature & { productId: string })[] = await m.query(
      `WITH RECURSIVE ${effectiveFeaturesSql('p.id = ANY($1::uuid[])', '$2')}
       SELECT root_id AS "productId", feature_id AS "featureId", feature_key AS "featureKey", limit_per_unit AS "limitPerUnit"
         FROM effective ORDER BY root_id, feature_key`,
      [productIds, GRAPH_GUARD],
    );
    const grouped = groupBy(rows, (r) => r.productId, productIds);
    return new Map(
      [...grouped].map(([id, list]) => [id, list.map(({ featureId, featureKey, limitPerUnit }) => ({ featureId, featureKey, limitPerUnit }))]),
    );
  },

  /**
   * Products by sku, each with its flattened features (as `effectiveFeatures`), in one
   * statement: what an order needs of the catalog (ADR 0047).
   */
  async productsWithFeaturesBySku(m: EntityManager, skus: readonly string[]): Promise<Map<string, { product: Product; effective: EffectiveFeature[] }>> {
    if (skus.length === 0) return new Map();
    const rows: (Record<string, unknown> & { effective: EffectiveFeature[] })[] = await preparedTx(m, 'ehub_catalog_products_by_sku',
      `WITH RECURSIVE ${effectiveFeaturesSql('p.sku = ANY($1::text[])', '$2')}
       SELECT p.id, p.sku, p.name, p.description, p.kind, p.currency, p.list_price_minor::text AS list_price_minor, p.ssp_minor::text AS ssp_minor,
              p.default_model, p.status, p.created_at, p.updated_at,
              COALESCE((SELECT jsonb_agg(jsonb_build_object('featureId', e.feature_id, 'featureKey', e.feature_key, 'limitPerUnit', e.limit_per_unit) ORDER BY e.feature_key)
                          FROM effective e WHERE e.root_id = p.id), '[]'::jsonb) AS effective
         FROM product p WHERE p.sku = ANY($1::text[])`,
      [skus, GRAPH_GUARD],
    );
    return new Map(
      rows.map((r) => [
        r.sku as string,
        {
          product: Object.assign(new Product(), {
            id: r.id,
            sku: r.sku,
            name: r.name,
            description: r.description,
            kind: r.kind,
            currency: r.currency,
            listPriceMinor: r.list_price_minor,
            sspMinor: r.ssp_minor,
            defaultModel: r.default_model,
            status: r.status,
            createdAt: r.created_at,
            updatedAt: r.updated_at,
          }),
          effective: r.effective,
        },
      ]),
    );
  },

  /**
   * Where a product sits in the bundle graph after its components changed: the sku path
   * of a cycle through it (if any), and the longest chains of bundles above and below it.
   */
  async bundleShape(m: EntityManager, productId: string): Promise<{ cycle: string[] | null; above: number; below: number }> {
    const [row] = (await m.query(
      `WITH RECURSIVE
       down (id, depth, path) AS (
         SELECT pc.component_id, 1, ARRAY[pc.bundle_id, pc.component_id]
           FROM product_component pc WHERE pc.bundle_id = $1
         UNION ALL
         SELECT pc.component_id, d.depth + 1, d.path || pc.component_id
           FROM down d JOIN product_component pc ON pc.bundle_id = d.id
          WHERE d.id <> $1 AND d.depth < $2
       ),
       up (id, depth) AS (
         SELECT pc.bundle_id, 1 FROM product_component pc WHERE pc.component_id = $1
         UNION ALL
         SELECT pc.bundle_id, u.depth + 1
           FROM up u JOIN product_component pc ON pc.component_id = u.id
          WHERE u.id <> $1 AND u.depth < $2
       ),
       cycle AS (SELECT path FROM down WHERE id = $1 ORDER BY depth LIMIT 1)
       SELECT (SELECT array_agg(p.sku ORDER BY o.n)
                 FROM cycle, unnest(cycle.path) WITH ORDINALITY AS o(id, n)
                 JOIN product p ON p.id = o.id) AS cycle,
              (SELECT coalesce(max(depth), 0) FROM up) AS above,
              (SELECT coalesce(max(depth), 0) FROM down) AS below`,
      [productId, GRAPH_GUARD],
    )) as { cycle: string[] | null; above: number; below: number }[];
    return { cycle: row!.cycle, above: Number(row!.above), below: Number(row!.below) };
  },
};

/**
 * The CTEs `tree` (each root product and its components, recursively, with the quantity
 * multiplier) and `effective` (root_id, feature_id, feature_key, limit_per_unit): the same
 * feature reached several ways is summed, unlimited (null) anywhere makes it unlimited.
 * `roots` is a condition on `product p`; `guard` the parameter of the depth guard.
 */
function effectiveFeaturesSql(roots: string, guard: string): string {
  return `tree (root_id, product_id, multiplier, depth) AS (
         SELECT p.id, p.id, 1::numeric, 0 FROM product p WHERE ${roots}
         UNION ALL
         SELECT t.root_id, pc.component_id, t.multiplier * pc.quantity, t.depth + 1
           FROM tree t
           JOIN product_component pc ON pc.bundle_id = t.product_id
          WHERE t.depth < ${guard}
       ), effective AS (
         SELECT t.root_id, f.id AS feature_id, f.key AS feature_key,
                CASE WHEN bool_or(pf.limit_per_unit IS NULL) THEN NULL
                     ELSE trim_scale(sum(pf.limit_per_unit * t.multiplier))::text
                END AS limit_per_unit
           FROM tree t
           JOIN product_feature pf ON pf.product_id = t.product_id
           JOIN feature f ON f.id = pf.feature_id
          GROUP BY t.root_id, f.id, f.key
       )`;
}
