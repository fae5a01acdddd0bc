import { MonetizationModel, PricingModel } from '../catalog/catalog.enums';
import {
  DEFAULT_MODEL_FIT_CONFIG as CFG,
  daysBetween,
  divRound,
  fitSummary,
  pricingModelOf,
  rateModel,
  ratioText,
  recommend,
  usageShape,
  withHeadroom,
  type ModelCharge,
  type PriceTerms,
  type UsageFacts,
  type UsageShape,
} from './modelfit.rules';

const facts: UsageFacts = {
  windowTo: '2026-12-04',
  firstUsageDay: '2026-08-06', // 26 + 30 + 31 + 30 + 3 = 120 days to 2026-12-04
  days: [
    { day: '2026-08-06', events: 10, users: 4 },
    { day: '2026-09-01', events: 30, users: 8 },
  ],
  distinctUsers: 21,
  usersLast30Days: 10,
  peakMonthlyUsers: 20,
  peakMonthlyDevices: 0,
  distinctDevices: 0,
  peakHourlyUsers: 6,
  peakLeases: 7,
  seatsOwned: 25,
  meterUnits: { 'api.calls': '120000', 'gb.out': '1.5' },
};

const price = (model: PricingModel, unitPriceMinor: bigint, extra: Partial<PriceTerms> = {}): PriceTerms => ({
  model,
  unitPriceMinor,
  perUnits: 1,
  meterKey: null,
  baseFeeMinor: null,
  includedUnits: null,
  ...extra,
});

describe('usageShape', () => {
  const s = usageShape(facts);

  it('measures history, peaks and idle seats over every day of the history', () => {
    expect(daysBetween('2026-08-06', '2026-12-04')).toBe(120);
    expect(s).toMatchObject({
      historyDays: 120,
      activeDays: 2,
      peakMonthlyUsers: 20,
      peakConcurrentUsers: 7, // the lease peak beats the hourly user peak (6)
      averageDailyActiveUsers: 0.1, // (4 + 8) / 120
      peakDailyActiveUsers: 8,
      peakToAverage: 80,
      idleSeatShare: 0.6, // (25 − 10) / 25
      meterUnits: [
        { meterKey: 'api.calls', units: '120000' },
        { meterKey: 'gb.out', units: '1.5' },
      ],
    });
  });

  it('gives burstiness as the coefficient of variation of daily events, idle days counted', () => {
    // mean = 40/120 = 1/3; E[x²] = 1000/120 = 25/3; variance = 25/3 − 1/9 = 74/9; sd/mean = √74.
    expect(s.burstiness).toBe(Number(Math.sqrt(74).toFixed(4)));
    const flat = usageShape({ ...facts, firstUsageDay: '2026-12-02', days: [{ day: '2026-12-02', events: 5, users: 1 }, { day: '2026-12-03', events: 5, users: 1 }] });
    expect(flat).toMatchObject({ historyDays: 2, burstiness: 0, peakToAverage: 1 });
  });

  it('has no ratios without usage or seats', () => {
    const none = usageShape({ ...facts, firstUsageDay: null, days: [], seatsOwned: null });
    expect(none).toMatchObject({ historyDays: 0, burstiness: null, peakToAverage: null, idleSeatShare: null });
  });
});

describe('rateModel', () => {
  const s: UsageShape = usageShape(facts);

  it('sizes capacity models at the peak plus headroom in whole units, priced per year', () => {
    expect([withHeadroom(20, 10), withHeadroom(7, 10), withHeadroom(10, 0), withHeadroom(1, 10), withHeadroom(10, 10)]).toEqual([22, 8, 10, 2, 11]);
    expect(rateModel(price(PricingModel.NAMED_USER, 120_000n), s, CFG)).toMatchObject({ rateable: true, unitsNeeded: '20', unitsRated: '22', chargeMinor: 2_640_000n });
    expect(rateModel(price(PricingModel.CONCURRENT, 300_000n), s, CFG)).toMatchObject({ rateable: true, unitsNeeded: '7', unitsRated: '8', chargeMinor: 2_400_000n });
    expect(rateModel(price(PricingModel.DEVICE_LOCKED, 50_000n), s, CFG)).toMatchObject({ rateable: false, chargeMinor: null, explanation: 'Not rated: no device ids in the usage' });
  });

  it('annualises meter units (× 365 ÷ history days) and rounds the charge half up once', () => {
    // 120 000 calls in 120 days = 365 000 a year, at 2.50 per 1000 = 912.50.
    expect(rateModel(price(PricingModel.USAGE, 250n, { perUnits: 1000, meterKey: 'api.calls' }), s, CFG)).toMatchObject({
      unitsNeeded: '365000',
      chargeMinor: 91_250n,
    });
    // 1.5 GB in 120 days = 4.5625 a year × 1 minor unit = 4.5625 → 5; 1.3 GB → 3.9542 → 4.
    expect(rateModel(price(PricingModel.USAGE, 1n, { meterKey: 'gb.out' }), s, CFG)).toMatchObject({ unitsNeeded: '4.5625', chargeMinor: 5n });
    const s13 = { ...s, meterUnits: [{ meterKey: 'gb.out', units: '1.3' }] };
    expect(rateModel(price(PricingModel.USAGE, 1n, { meterKey: 'gb.out' }), s13, CFG)).toMatchObject({ unitsNeeded: '3.9542', chargeMinor: 4n });
    expect(rateModel(price(PricingModel.USAGE, 1n, { meterKey: 'other' }), s, CFG)).toMatchObject({ rateable: false, chargeMinor: null });
  });

  it('charges hybrid as the base fee plus the annualised units beyond the included ones', () => {
    const hybrid = (included: string) => price(PricingModel.HYBRID, 300n, { perUnits: 1000, meterKey: 'api.calls', baseFeeMinor: 50_000n, includedUnits: included });
    // 365 000 − 300 000 = 65 000 over × 3.00 per 1000 = 195.00, + 500.00.
    expect(rateModel(hybrid('300000'), s, CFG)).toMatchObject({ chargeMinor: 69_500n, unitsNeeded: '365000' });
    expect(rateModel(hybrid('400000'), s, CFG)).toMatchObject({ chargeMinor: 50_000n });
    // Fractional included units: 365 000 − 364 999.5 = 0.5 over × 300 ÷ 1000 = 0.15 → 0.
    expect(rateModel(hybrid('364999.5'), s, CFG)).toMatchObject({ chargeMinor: 50_000n });
  });

  it('does exact fraction arithmetic', () => {
    expect([divRound(5n, 2n), divRound(7n, 3n), divRound(0n, 9n)]).toEqual([3n, 2n, 0n]);
    expect([ratioText(365n * 15n, 1200n), ratioText(10n, 1n), ratioText(1n, 3n)]).toEqual(['4.5625', '10', '0.3333']);
  });
});

const charge = (model: PricingModel, minor: bigint | null): ModelCharge => ({
  model,
  rateable: minor !== null,
  explanation: '',
  unitsNeeded: null,
  unitsRated: null,
  chargeMinor: minor,
});

describe('recommend', () => {
  it('recommends the cheapest model against the current model at catalog prices', () => {
    const r = recommend(
      MonetizationModel.NAMED_USER,
      [charge(PricingModel.NAMED_USER, 2_640_000n), charge(PricingModel.CONCURRENT, 2_400_000n), charge(PricingModel.USAGE, 91_250n), charge(PricingModel.HYBRID, 69_500n)],
      1_000_000n,
      CFG,
    );
    expect(r).toMatchObject({ recommendation: 'HYBRID', recommendedModel: PricingModel.HYBRID, baselineMinor: 2_640_000n, baselineSource: 'CATALOG', savingMinor: 2_570_500n });
  });

  it('keeps the current model below the saving threshold, and changes at it', () => {
    const below = recommend(MonetizationModel.NAMED_USER, [charge(PricingModel.NAMED_USER, 1_000_000n), charge(PricingModel.CONCURRENT, 950_000n)], null, CFG);
    expect(below).toMatchObject({ recommendation: 'KEEP', savingMinor: null, baselineMinor: 1_000_000n });
    expect(below.reason).toMatch(/5 % less, below the 10 % needed/);
    const at = recommend(MonetizationModel.NAMED_USER, [charge(PricingModel.NAMED_USER, 1_000_000n), charge(PricingModel.CONCURRENT, 900_000n)], null, CFG);
    expect(at).toMatchObject({ recommendation: 'CONCURRENT', savingMinor: 100_000n });
  });

  it('keeps the current model when it is cheapest or tied', () => {
    expect(recommend(MonetizationModel.CONCURRENT, [charge(PricingModel.NAMED_USER, 100n), charge(PricingModel.CONCURRENT, 100n)], null, CFG).recommendation).toBe('KEEP');
    // METERED is sold as HYBRID.
    expect(pricingModelOf(MonetizationModel.METERED)).toBe(PricingModel.HYBRID);
    expect(recommend(MonetizationModel.METERED, [charge(PricingModel.HYBRID, 10n), charge(PricingModel.USAGE, 50n)], null, CFG).reason).toMatch(/HYBRID is already the cheapest/);
  });

  it('compares with what was paid when the current model has no catalog price', () => {
    const r = recommend(MonetizationModel.SUBSCRIPTION, [charge(PricingModel.NAMED_USER, 400_000n)], 500_000n, CFG);
    expect(r).toMatchObject({ recommendation: 'NAMED_USER', baselineSource: 'PAID', baselineMinor: 500_000n, savingMinor: 100_000n });
    expect(recommend(MonetizationModel.SUBSCRIPTION, [charge(PricingModel.NAMED_USER, 400_000n)], null, CFG)).toMatchObject({ recommendation: 'KEEP', baselineSource: null });
    expect(recommend(MonetizationModel.SUBSCRIPTION, [charge(PricingModel.NAMED_USER, 600_000n)], 500_000n, CFG).recommendation).toBe('KEEP');
    expect(recommend(MonetizationModel.NAMED_USER, [charge(PricingModel.DEVICE_LOCKED, null)], 500_000n, CFG).reason).toMatch(/No priced model could be rated/);
  });

  it('summarises an account as KEEP or its largest saving', () => {
    const rec = (saving: bigint | null, model: PricingModel | null) => ({
      recommendation: model ?? 'KEEP',
      recommendedModel: model,
      baselineMinor: null,
      baselineSource: null,
      savingMinor: saving,
      reason: '',
    });
    const major = (v: bigint) => (Number(v) / 100).toFixed(2);
    expect(fitSummary([{ sku: 'A', currency: 'USD', rec: rec(null, null) }], major)).toBe('KEEP');
    expect(
      fitSummary(
        [
          { sku: 'A', currency: 'USD', rec: rec(10_000n, PricingModel.CONCURRENT) },
          { sku: 'B', currency: 'USD', rec: rec(250_000n, PricingModel.USAGE) },
        ],
        major,
      ),
    ).toBe('USAGE for B: 2500.00 USD a year less');
  });
});
