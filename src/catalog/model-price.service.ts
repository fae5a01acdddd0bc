import type { EntityManager } from 'typeorm';
import { assertUnscoped } from '../auth/scope';
import type { RequestContext } from '../common/context';
import { badInput, notFound } from '../common/errors';
import { money } from '../common/money';
import type { Db } from '../db/db';
import { Product } from './catalog.entities';
import type { PricingModel } from './catalog.enums';
import { limitToDecimal } from './catalog.rules';
import { BILLABLE_AGGREGATIONS, checkModelPrices, priceUnit } from './model-price.rules';
import type { ProductModelPrice, ProductModelPriceInput } from './model-price.types';

/** A stored model price as the rating reads it (amounts as minor-unit strings). */
export interface ModelPriceRow {
  product_id: string;
  model: PricingModel;
  currency: string;
  unit_price_minor: string;
  per_units: number;
  meter_id: string | null;
  meter_key: string | null;
  base_fee_minor: string | null;
  included_units: string | null;
  updated_at: Date;
}

/** The model prices of these products in one statement, by product id, in model order. */
export async function modelPricesOf(m: EntityManager, productIds: readonly string[]): Promise<Map<string, ModelPriceRow[]>> {
  const out = new Map<string, ModelPriceRow[]>(productIds.map((id) => [id, []]));
  const rows: ModelPriceRow[] = await m.query(
    `SELECT pp.product_id, pp.model, pp.currency, pp.unit_price_minor::text, pp.per_units, pp.meter_id, mt.key AS meter_key,
            pp.base_fee_minor::text, trim_scale(pp.included_units)::text AS included_units, pp.updated_at
       FROM product_model_price pp LEFT JOIN meter mt ON mt.id = pp.meter_id
      WHERE pp.product_id = ANY($1::uuid[])
      ORDER BY pp.product_id, array_position(ARRAY['NAMED_USER','CONCURRENT','DEVICE_LOCKED','HYBRID','USAGE'], pp.model)`,
    [[...productIds]],
  );
  for (const r of rows) out.get(r.product_id)?.push(r);
  return out;
}

/** A stored row as GraphQL shows it. */
export function toModelPrice(r: ModelPriceRow): ProductModelPrice {
  return {
    model: r.model,
    unitPrice: money(r.unit_price_minor, r.currency)!,
    perUnits: r.per_units,
    meterKey: r.meter_key,
    baseFee: money(r.base_fee_minor, r.currency),
    includedUnits: r.included_units,
    unit: priceUnit(r.model, r.per_units, r.meter_key),
    updatedAt: r.updated_at,
  };
}

/**
 * The catalog's prices of a product per monetization model (ADR 0033). The product keeps its
 * single list price for orders; these say what the same product costs sold another way, so
 * model fit can re-rate an account's usage under each.
 */
export class ModelPriceService {
  constructor(private readonly db: Db) {}

  /** Replaces the product's model prices (an empty list removes them). Idempotent: the same list twice changes nothing and audits once. */
  async setProductModelPrices(ctx: RequestContext, sku: string, prices: ProductModelPriceInput[]): Promise<Product> {
    assertUnscoped(ctx, 'change the catalog');
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      const product = await m.createQueryBuilder(Product, 'p').setLock('for_no_key_update').where('p.sku = :sku', { sku }).getOne();
      if (!product) throw notFound('Product', sku);
      const problem = checkModelPrices(prices, product.currency);
      if (problem) throw badInput(problem.code, problem.message, problem.fields);

      const keys = [...new Set(prices.map((p) => p.meterKey).filter((k): k is string => !!k))];
      const meters: { id: string; key: string; aggregation: string }[] = keys.length
        ? await m.query(`SELECT id, key, aggregation FROM meter WHERE key = ANY($1::text[])`, [keys])
        : [];
      const meterBy = new Map(meters.map((x) => [x.key, x]));
      const unknown = prices.flatMap((p, i) => (p.meterKey && !meterBy.has(p.meterKey) ? [{ path: `prices.${i}.meterKey`, message: `no meter with key "${p.meterKey}"` }] : []));
      if (unknown.length) throw badInput('MODEL_PRICE_UNKNOWN_METER', 'Unknown meter; create it first (upsertMeter)', unknown);
      const observed = prices.flatMap((p, i) => {
        const mt = p.meterKey ? meterBy.get(p.meterKey) : undefined;
        return mt && !BILLABLE_AGGREGATIONS.includes(mt.aggregation as never)
          ? [{ path: `prices.${i}.meterKey`, message: `"${mt.key}" is a ${mt.aggregation} meter; only SUM and COUNT meters count billable units` }]
          : [];
      });
      if (observed.length) throw badInput('MODEL_PRICE_METER_NOT_BILLABLE', 'Usage is priced per unit of a SUM or COUNT meter', observed);

      const next = prices.map((p) => ({
        model: p.model,
        currency: product.currency,
        unit_price_minor: BigInt(p.unitPrice.amountMinor).toString(),
        per_units: p.perUnits ?? 1,
        meter_id: p.meterKey ? meterBy.get(p.meterKey)!.id : null,
        base_fee_minor: p.baseFee ? BigInt(p.baseFee.amountMinor).toString() : null,
        included_units: limitToDecimal(p.includedUnits),
      }));
      const before = (await modelPricesOf(m, [product.id])).get(product.id)!;
      const canon = (rows: { model: string; unit_price_minor: string; per_units: number; meter_id: string | null; base_fee_minor: string | null; included_units: string | null }[]) =>
        JSON.stringify(rows.map((r) => [r.model, r.unit_price_minor, r.per_units, r.meter_id, r.base_fee_minor, r.included_units]).sort());
      if (canon(before) === canon(next)) return product;

      await m.query(`DELETE FROM product_model_price WHERE product_id = $1`, [product.id]);
      if (next.length) {
        await m.query(
          `INSERT INTO product_model_price (product_id, model, currency, unit_price_minor, per_units, meter_id, base_fee_minor, included_units)
           SELECT $1, x.model, $2, x.unit_price_minor, x.per_units, x.meter_id, x.base_fee_minor, trim_scale(x.included_units)
             FROM jsonb_to_recordset($3::jsonb) AS x(model text, unit_price_minor bigint, per_units int, meter_id uuid, base_fee_minor bigint, included_units numeric)`,
          [product.id, product.currency, JSON.stringify(next)],
        );
      }
      await m.query('UPDATE product SET updated_at = now() WHERE id = $1', [product.id]);
      const after = (await modelPricesOf(m, [product.id])).get(product.id)!;
      tx.audit({
        entity: 'Product',
        entityId: product.id,
        action: 'UPDATE',
        before: { sku, modelPrices: before.map(toModelPrice).map(({ updatedAt: _u, ...p }) => p) },
        after: { sku, modelPrices: after.map(toModelPrice).map(({ updatedAt: _u, ...p }) => p) },
      });
      return m.findOneByOrFail(Product, { id: product.id });
    });
  }
}

