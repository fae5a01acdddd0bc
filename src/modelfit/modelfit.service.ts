import type { EntityManager } from 'typeorm';
import { assertAccountVisible } from '../auth/scope';
import type { RequestContext } from '../common/context';
import { addDays, todayIn } from '../common/dates';
import { AppError, notFound } from '../common/errors';
import { isUuid } from '../common/ids';
import { minorToMajor, money } from '../common/money';
import type { Db, Tx } from '../db/db';
import type { PricingModel } from '../catalog/catalog.enums';
import { modelPricesOf } from '../catalog/model-price.service';
import {
  WINDOW_DAYS,
  fitSummary,
  rateModel,
  recommend,
  usageShape,
  type ModelFitConfig,
  type PriceTerms,
  type Recommendation,
} from './modelfit.rules';
import { key, readFitInputs } from './modelfit.sql';
import { BaselineSourceEnum, ModelFitStatus, type AccountModelFit, type ProductModelFit } from './modelfit.types';

const BATCH = 500;

export interface ModelFitRunSummary {
  accounts: number;
  /** Accounts with at least one product analysed. */
  fitted: number;
  /** Accounts whose CRM summary changed (these re-send their account fields). */
  changed: number;
}

/**
 * Monetization-model fit (ADR 0033, docs/model-fit.md): for each product an account held in
 * the last 365 complete UTC days, the usage shape, what each priced model would have charged
 * for a year of it, what was paid, and a recommendation. Read live (`fitMany`, batched: a
 * fixed number of statements per batch of accounts); the one-line summary the CRM shows is
 * stored by `recompute` and the daily job, and a change re-sends the account's fields.
 */
/** How old a stored analysis customer360 still shows (the job runs daily). */
export const STORED_FRESH_HOURS = 36;

export class ModelFitService {
  readonly config: ModelFitConfig;

  constructor(
    private readonly db: Db,
    settings: { EHUB_MODEL_FIT_MIN_DAYS: number; EHUB_MODEL_FIT_HEADROOM_PERCENT: number; EHUB_MODEL_FIT_MIN_SAVING_PERCENT: number },
  ) {
    this.config = {
      minHistoryDays: settings.EHUB_MODEL_FIT_MIN_DAYS,
      headroomPercent: settings.EHUB_MODEL_FIT_HEADROOM_PERCENT,
      minSavingPercent: settings.EHUB_MODEL_FIT_MIN_SAVING_PERCENT,
    };
  }

  /** The window ending at the start of today (UTC): [from, to) as dates and instants. */
  window(at: Date): { fromDay: string; toDay: string; from: Date; to: Date } {
    const toDay = todayIn('UTC', at);
    const fromDay = addDays(toDay, -WINDOW_DAYS);
    return { fromDay, toDay, from: new Date(`${fromDay}T00:00:00Z`), to: new Date(`${toDay}T00:00:00Z`) };
  }

  /** Model fit of a batch of accounts (every id gets an answer; no products = an empty list). */
  /**
   * The stored analyses (the daily job's or `recomputeModelFit`'s) made within the last
   * `STORED_FRESH_HOURS`, and a live analysis for the accounts without one: what customer360
   * shows, so a view does not re-rate a year of usage. One statement, plus `fitMany`'s fixed
   * ones when any account needs a live analysis.
   */
  async storedOrLive(accountIds: readonly string[], at = new Date()): Promise<Map<string, AccountModelFit>> {
    const rows: { account_id: string; analysis: AccountModelFit; computed_at: Date }[] = await this.db.manager.query(
      `SELECT account_id, analysis, computed_at FROM account_model_fit
        WHERE account_id = ANY($1::uuid[]) AND analysis IS NOT NULL AND computed_at > $2::timestamptz - make_interval(hours => $3) AND computed_at <= $2::timestamptz`,
      [[...new Set(accountIds)], at, STORED_FRESH_HOURS],
    );
    const out = new Map<string, AccountModelFit>(rows.map((r) => [r.account_id, { ...r.analysis, analysedAt: new Date(r.computed_at) }]));
    const missing = accountIds.filter((id) => !out.has(id));
    if (missing.length) for (const [id, f] of await this.fitMany(missing, at)) out.set(id, { ...f, analysedAt: null });
    return out;
  }

  async fitMany(accountIds: readonly string[], at = new Date(), m: EntityManager = this.db.manager): Promise<Map<string, AccountModelFit>> {
    const w = this.window(at);
    // Always the same statements, whatever the accounts hold (customer360 counts them).
    const { subjects, facts, paid } = await readFitInputs(m, accountIds, w.from, w.to, w.toDay);
    const prices = await modelPricesOf(m, [...new Set(subjects.map((s) => s.product_id))]);
    const shapes = new Map(subjects.map((s) => [key(s.account_id, s.product_id), usageShape(facts.get(key(s.account_id, s.product_id))!)]));
    const lastDay = addDays(w.toDay, -1);

    const out = new Map<string, AccountModelFit>(
      accountIds.map((id) => [id, { accountId: id, windowFrom: w.fromDay, windowTo: lastDay, summary: null, products: [] }]),
    );
    const recs = new Map<string, { sku: string; currency: string; rec: Recommendation }[]>();
    for (const s of subjects) {
      const k = key(s.account_id, s.product_id);
      const f = facts.get(k)!;
      const shape = shapes.get(k)!;
      const priced = (prices.get(s.product_id) ?? []).filter((p) => p.currency.trim() === s.currency.trim());
      const paidRows = paid.get(k) ?? [];
      const paidHere = paidRows.find((p) => p.currency === s.currency.trim())?.minor ?? null;
      const paidPerYear = paidHere !== null && shape.historyDays > 0 ? (paidHere * BigInt(WINDOW_DAYS) * 2n + BigInt(shape.historyDays)) / (2n * BigInt(shape.historyDays)) : null;
      const base: ProductModelFit = {
        productId: s.product_id,
        sku: s.sku,
        productName: s.name,
        status: ModelFitStatus.FITTED,
        currentModel: s.current_model,
        periodFrom: f.firstUsageDay,
        periodTo: lastDay,
        paid: paidRows.map((p) => money(p.minor, p.currency)!).sort((a, b) => a.currency.localeCompare(b.currency)),
        paidPerYear: money(paidPerYear, s.currency),
        usageShape: f.firstUsageDay ? shape : null,
        charges: [],
        recommendation: 'KEEP',
        recommendedModel: null,
        baseline: null,
        baselineSource: null,
        annualSaving: null,
        reason: '',
      };
      const product = out.get(s.account_id)!.products;
      if (!priced.length) {
        product.push({ ...base, status: ModelFitStatus.NO_PRICES, reason: `${s.sku} has no model prices in ${s.currency}; set them with setProductModelPrices.` });
        continue;
      }
      if (shape.historyDays < this.config.minHistoryDays) {
        product.push({
          ...base,
          status: ModelFitStatus.INSUFFICIENT_USAGE,
          reason: f.firstUsageDay
            ? `Only ${shape.historyDays} days of usage history in the window; at least ${this.config.minHistoryDays} are needed.`
            : `No usage of ${s.sku} in the last ${WINDOW_DAYS} days; at least ${this.config.minHistoryDays} days of history are needed.`,
        });
        continue;
      }
      const terms: PriceTerms[] = priced.map((p) => ({
        model: p.model as PricingModel,
        unitPriceMinor: BigInt(p.unit_price_minor),
        perUnits: p.per_units,
        meterKey: p.meter_key,
        baseFeeMinor: p.base_fee_minor === null ? null : BigInt(p.base_fee_minor),
        includedUnits: p.included_units,
      }));
      const charges = terms.map((t) => rateModel(t, shape, this.config));
      const rec = recommend(s.current_model, charges, paidPerYear, this.config);
      (recs.get(s.account_id) ?? recs.set(s.account_id, []).get(s.account_id)!).push({ sku: s.sku, currency: s.currency, rec });
      product.push({
        ...base,
        charges: charges.map((c) => ({
          model: c.model,
          rateable: c.rateable,
          explanation: c.explanation,
          unitsNeeded: c.unitsNeeded,
          unitsRated: c.unitsRated,
          charge: money(c.chargeMinor, s.currency),
        })),
        recommendation: rec.recommendation,
        recommendedModel: rec.recommendedModel,
        baseline: money(rec.baselineMinor, s.currency),
        baselineSource: rec.baselineSource as BaselineSourceEnum | null,
        annualSaving: money(rec.savingMinor, s.currency),
        reason: rec.reason,
      });
    }
    for (const [id, list] of recs) out.get(id)!.summary = fitSummary(list, (v, c) => minorToMajor(v, c));
    return out;
  }

  /** One account's fit; MODEL_FIT_NO_PRODUCTS, MODEL_FIT_NO_PRICES or MODEL_FIT_INSUFFICIENT_USAGE when no product could be analysed. */
  async modelFit(ctx: RequestContext, accountId: string, at = new Date()): Promise<AccountModelFit> {
    await this.assertAccount(ctx, accountId);
    const fit = (await this.fitMany([accountId], at)).get(accountId)!;
    assertAnalysed(fit);
    return fit;
  }

  /** Analyses one account now and stores its CRM summary (re-sending its account fields when it changed). */
  async recompute(ctx: RequestContext, accountId: string, at = new Date()): Promise<AccountModelFit> {
    await this.assertAccount(ctx, accountId);
    const fit = await this.db.tx(ctx, async (tx) => {
      const f = (await this.fitMany([accountId], at, tx.manager)).get(accountId)!;
      await this.store(tx, [f], at);
      return f;
    });
    assertAnalysed(fit);
    return fit;
  }

  /** Analyses every account holding a product (the scheduled job), in batches, stopping between batches when aborted. */
  async recomputeAll(ctx: RequestContext, signal?: AbortSignal, at = new Date()): Promise<ModelFitRunSummary> {
    const total: ModelFitRunSummary = { accounts: 0, fitted: 0, changed: 0 };
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      if (signal?.aborted) break;
      const ids: { id: string }[] = await this.db.manager.query(
        `SELECT a.id FROM account a WHERE a.id > $1 AND EXISTS (SELECT 1 FROM entitlement e WHERE e.account_id = a.id) ORDER BY a.id LIMIT $2`,
        [after, BATCH],
      );
      if (!ids.length) break;
      after = ids[ids.length - 1]!.id;
      const r = await this.db.tx(ctx, async (tx) => {
        const fits = await this.fitMany(ids.map((i) => i.id), at, tx.manager);
        return this.store(tx, [...fits.values()], at);
      });
      total.accounts += ids.length;
      total.fitted += r.fitted;
      total.changed += r.changed;
    }
    return total;
  }

  /**
   * Upserts the CRM summaries and the whole analyses (for customer360) in one statement and
   * publishes the accounts whose summary changed. An account holding a product gets a row even
   * when nothing could be analysed (summary null: the analysis says why, and views need not
   * analyse it again); an account holding nothing keeps a row only if it had one.
   */
  private async store(tx: Tx, fits: AccountModelFit[], at: Date): Promise<{ fitted: number; changed: number }> {
    const rows = fits.map((f) => {
      const top = topChange(f);
      return {
        id: f.accountId,
        summary: f.summary,
        recommendation: top?.recommendation ?? (f.summary ? 'KEEP' : null),
        product_id: top?.productId ?? null,
        saving_minor: top?.annualSaving?.amountMinor ?? null,
        currency: top?.annualSaving?.currency ?? null,
        products: f.products.map((p) => ({ sku: p.sku, status: p.status, recommendation: p.recommendation, saving: p.annualSaving, baseline: p.baseline })),
        analysis: { ...f, analysedAt: undefined },
      };
    });
    const changed: { account_id: string }[] = await tx.manager.query(
      `WITH s AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS s(id uuid, summary text, recommendation text, product_id uuid, saving_minor bigint, currency text, products jsonb, analysis jsonb)
       ), old AS (
         -- The snapshot's values (no FOR UPDATE: a CTE's lock skips the rows this statement's upsert changes, and would hide them).
         SELECT f.account_id, f.summary FROM account_model_fit f JOIN s ON s.id = f.account_id
       ), up AS (
         INSERT INTO account_model_fit AS f (account_id, summary, recommendation, product_id, saving_minor, currency, products, analysis, computed_at)
         SELECT s.id, s.summary, s.recommendation, s.product_id, s.saving_minor, s.currency, s.products, s.analysis, $2 FROM s
          WHERE s.summary IS NOT NULL OR EXISTS (SELECT 1 FROM old WHERE old.account_id = s.id) OR jsonb_array_length(s.analysis->'products') > 0
          ORDER BY s.id
         ON CONFLICT (account_id) DO UPDATE SET summary = EXCLUDED.summary, recommendation = EXCLUDED.recommendation, product_id = EXCLUDED.product_id,
           saving_minor = EXCLUDED.saving_minor, currency = EXCLUDED.currency, products = EXCLUDED.products, analysis = EXCLUDED.analysis, computed_at = EXCLUDED.computed_at
         RETURNING f.account_id, f.summary
       )
       SELECT up.account_id FROM up LEFT JOIN old ON old.account_id = up.account_id
        WHERE old.summary IS DISTINCT FROM up.summary`,
      [JSON.stringify(rows), at],
    );
    if (changed.length) tx.publish({ kind: 'modelfit.changed', accountIds: changed.map((c) => c.account_id) });
    return { fitted: fits.filter((f) => f.summary !== null).length, changed: changed.length };
  }

  private async assertAccount(ctx: RequestContext, accountId: string): Promise<void> {
    if (!isUuid(accountId)) throw notFound('Account', accountId);
    assertAccountVisible(ctx, accountId);
    const [row] = await this.db.manager.query(`SELECT 1 FROM account WHERE id = $1`, [accountId]);
    if (!row) throw notFound('Account', accountId);
  }
}

/** The product change behind the summary (the largest saving), if any. */
function topChange(f: AccountModelFit): ProductModelFit | null {
  const changes = f.products.filter((p) => p.annualSaving !== null);
  changes.sort((a, b) => {
    const x = BigInt(a.annualSaving!.amountMinor);
    const y = BigInt(b.annualSaving!.amountMinor);
    return x > y ? -1 : x < y ? 1 : a.sku.localeCompare(b.sku);
  });
  return changes[0] ?? null;
}

/** Throws the code that says why nothing could be analysed (insufficient usage wins over missing prices). */
function assertAnalysed(fit: AccountModelFit): void {
  if (fit.products.some((p) => p.status === ModelFitStatus.FITTED)) return;
  const details = { accountId: fit.accountId, products: fit.products.map((p) => ({ sku: p.sku, status: p.status, reason: p.reason })) };
  if (!fit.products.length) {
    throw new AppError('BAD_USER_INPUT', 'MODEL_FIT_NO_PRODUCTS', `Account ${fit.accountId} held no product in the window (${fit.windowFrom} to ${fit.windowTo})`, details);
  }
  if (fit.products.some((p) => p.status === ModelFitStatus.INSUFFICIENT_USAGE)) {
    throw new AppError('BAD_USER_INPUT', 'MODEL_FIT_INSUFFICIENT_USAGE', `Not enough usage history to fit a model: ${fit.products.map((p) => `${p.sku}: ${p.reason}`).join(' ')}`, details);
  }
  throw new AppError('BAD_USER_INPUT', 'MODEL_FIT_NO_PRICES', `None of the account's products has model prices: ${fit.products.map((p) => p.sku).join(', ')} (setProductModelPrices)`, details);
}
