import type { FieldError } from '../common/errors';
import { MeterAggregation, PricingModel } from './catalog.enums';
import { duplicateFields } from './catalog.rules';

/** What a model price needs besides its unit price (ADR 0033). */
export const METER_MODELS: readonly PricingModel[] = [PricingModel.USAGE, PricingModel.HYBRID];
/** Meters whose figure is a count of billable units; MAX, LATEST and UNIQUE_COUNT are observations. */
export const BILLABLE_AGGREGATIONS: readonly MeterAggregation[] = [MeterAggregation.SUM, MeterAggregation.COUNT];

/** A model price as given (amounts as minor-unit strings, the included units as a decimal string). */
export interface ModelPriceDraft {
  model: PricingModel;
  unitPrice: { amountMinor: string; currency: string };
  perUnits?: number | null;
  meterKey?: string | null;
  baseFee?: { amountMinor: string; currency: string } | null;
  includedUnits?: number | null;
}

/** One validation failure: the sub-code and the fields it concerns. */
export interface PriceProblem {
  code: string;
  message: string;
  fields: FieldError[];
}

const given = <T>(v: T | null | undefined): v is T => v !== null && v !== undefined;

/**
 * Checks a product's model prices without the database: one price per model, all in the
 * product's currency, nothing negative, a meter for USAGE and HYBRID only, a base fee and
 * included units for HYBRID only. The first failing rule wins (each names every field it
 * concerns); null when all pass.
 */
export function checkModelPrices(prices: readonly ModelPriceDraft[], productCurrency: string): PriceProblem | null {
  const path = (i: number, f: string) => `prices.${i}.${f}`;
  const dup = duplicateFields(prices, (p) => p.model, (i) => path(i, 'model'));
  if (dup.length) return { code: 'MODEL_PRICE_DUPLICATE_MODEL', message: 'Each model may be priced once per product', fields: dup };

  const currency: FieldError[] = [];
  prices.forEach((p, i) => {
    if (p.unitPrice.currency !== productCurrency) currency.push({ path: path(i, 'unitPrice.currency'), message: `must be ${productCurrency}, the product's currency` });
    if (p.baseFee && p.baseFee.currency !== productCurrency) currency.push({ path: path(i, 'baseFee.currency'), message: `must be ${productCurrency}, the product's currency` });
  });
  if (currency.length) return { code: 'MODEL_PRICE_CURRENCY_MISMATCH', message: `Model prices must be in the product's currency (${productCurrency})`, fields: currency };

  const negative: FieldError[] = [];
  prices.forEach((p, i) => {
    if (BigInt(p.unitPrice.amountMinor) < 0n) negative.push({ path: path(i, 'unitPrice.amountMinor'), message: 'must not be negative' });
    if (p.baseFee && BigInt(p.baseFee.amountMinor) < 0n) negative.push({ path: path(i, 'baseFee.amountMinor'), message: 'must not be negative' });
    if (given(p.includedUnits) && !(p.includedUnits >= 0)) negative.push({ path: path(i, 'includedUnits'), message: 'must not be negative' });
  });
  if (negative.length) return { code: 'MODEL_PRICE_NEGATIVE', message: 'Prices and included units must not be negative', fields: negative };

  const meter: FieldError[] = [];
  prices.forEach((p, i) => {
    if (METER_MODELS.includes(p.model) && !p.meterKey) meter.push({ path: path(i, 'meterKey'), message: `is required for ${p.model}: the meter whose units are priced` });
  });
  if (meter.length) return { code: 'MODEL_PRICE_METER_REQUIRED', message: 'USAGE and HYBRID prices are per unit of a meter: give meterKey', fields: meter };

  const hybrid: FieldError[] = [];
  prices.forEach((p, i) => {
    if (p.model !== PricingModel.HYBRID) return;
    if (!p.baseFee) hybrid.push({ path: path(i, 'baseFee'), message: 'is required for HYBRID' });
    if (!given(p.includedUnits)) hybrid.push({ path: path(i, 'includedUnits'), message: 'is required for HYBRID' });
  });
  if (hybrid.length) return { code: 'MODEL_PRICE_HYBRID_TERMS_REQUIRED', message: 'A HYBRID price needs a yearly base fee and the units it includes', fields: hybrid };

  const extra: FieldError[] = [];
  prices.forEach((p, i) => {
    if (!METER_MODELS.includes(p.model) && p.meterKey) extra.push({ path: path(i, 'meterKey'), message: `does not apply to ${p.model} (priced per unit and year)` });
    if (!METER_MODELS.includes(p.model) && given(p.perUnits) && p.perUnits !== 1) extra.push({ path: path(i, 'perUnits'), message: `does not apply to ${p.model}` });
    if (p.model !== PricingModel.HYBRID && p.baseFee) extra.push({ path: path(i, 'baseFee'), message: 'applies to HYBRID only' });
    if (p.model !== PricingModel.HYBRID && given(p.includedUnits)) extra.push({ path: path(i, 'includedUnits'), message: 'applies to HYBRID only' });
  });
  if (extra.length) return { code: 'MODEL_PRICE_FIELD_NOT_ALLOWED', message: 'Some fields do not apply to the model they are given for', fields: extra };
  return null;
}

/** How a model's unit price reads, for people: "per named user and year", "per 1000 api.calls". */
export function priceUnit(model: PricingModel, perUnits: number, meterKey: string | null): string {
  const block = perUnits === 1 ? '' : `${perUnits} `;
  switch (model) {
    case PricingModel.NAMED_USER:
      return 'per named user and year';
    case PricingModel.CONCURRENT:
      return 'per concurrent user and year';
    case PricingModel.DEVICE_LOCKED:
      return 'per device and year';
    case PricingModel.USAGE:
      return `per ${block}${meterKey} unit${perUnits === 1 ? '' : 's'}`;
    case PricingModel.HYBRID:
      return `yearly base fee with included ${meterKey} units; overage per ${block}unit${perUnits === 1 ? '' : 's'}`;
  }
}
