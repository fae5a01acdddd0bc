import { PricingModel } from './catalog.enums';
import { checkModelPrices, priceUnit, type ModelPriceDraft } from './model-price.rules';

const usd = (amountMinor: string | number) => ({ amountMinor: String(amountMinor), currency: 'USD' });

describe('checkModelPrices', () => {
  const ok: ModelPriceDraft[] = [
    { model: PricingModel.NAMED_USER, unitPrice: usd(120000) },
    { model: PricingModel.USAGE, unitPrice: usd(250), perUnits: 1000, meterKey: 'api.calls' },
    { model: PricingModel.HYBRID, unitPrice: usd(300), perUnits: 1000, meterKey: 'api.calls', baseFee: usd(50000), includedUnits: 300000 },
  ];

  it('accepts one price per model with what each model needs', () => {
    expect(checkModelPrices(ok, 'USD')).toBeNull();
    expect(checkModelPrices([], 'USD')).toBeNull();
  });

  it.each([
    ['MODEL_PRICE_DUPLICATE_MODEL', [...ok, { model: PricingModel.NAMED_USER, unitPrice: usd(1) }], 'prices.3.model'],
    ['MODEL_PRICE_CURRENCY_MISMATCH', [{ model: PricingModel.NAMED_USER, unitPrice: { amountMinor: '1', currency: 'EUR' } }], 'prices.0.unitPrice.currency'],
    ['MODEL_PRICE_NEGATIVE', [{ model: PricingModel.CONCURRENT, unitPrice: usd(-1) }], 'prices.0.unitPrice.amountMinor'],
    ['MODEL_PRICE_METER_REQUIRED', [{ model: PricingModel.USAGE, unitPrice: usd(1) }], 'prices.0.meterKey'],
    ['MODEL_PRICE_HYBRID_TERMS_REQUIRED', [{ model: PricingModel.HYBRID, unitPrice: usd(1), meterKey: 'm', baseFee: usd(1) }], 'prices.0.includedUnits'],
    ['MODEL_PRICE_FIELD_NOT_ALLOWED', [{ model: PricingModel.DEVICE_LOCKED, unitPrice: usd(1), meterKey: 'm' }], 'prices.0.meterKey'],
    ['MODEL_PRICE_FIELD_NOT_ALLOWED', [{ model: PricingModel.USAGE, unitPrice: usd(1), meterKey: 'm', baseFee: usd(1) }], 'prices.0.baseFee'],
  ] as const)('%s', (code, prices, path) => {
    const p = checkModelPrices(prices as unknown as ModelPriceDraft[], 'USD');
    expect(p?.code).toBe(code);
    expect(p?.fields.map((f) => f.path)).toContain(path);
  });

  it('says what a price is per', () => {
    expect(priceUnit(PricingModel.NAMED_USER, 1, null)).toBe('per named user and year');
    expect(priceUnit(PricingModel.USAGE, 1000, 'api.calls')).toBe('per 1000 api.calls units');
  });
});
