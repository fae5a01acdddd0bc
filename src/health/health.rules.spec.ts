import { DEFAULT_HEALTH_CONFIG, parseHealthConfig, riskFromHealth, scoreHealth, type HealthInputs } from './health.rules';

const none: HealthInputs = {
  utilisation: null,
  contractAgeDays: null,
  activeUsers: null,
  usageTrend: null,
  daysToRenewal: null,
  overdueReceivables: null,
  openFindings: null,
  daysSinceLastUsage: null,
};

describe('scoreHealth', () => {
  it('is the weighted average of band points over every measure with data', () => {
    const r = scoreHealth({
      utilisation: { ratio: 0.8, byModel: { NAMED_USER: { entitlements: 1, ratio: 0.8 } } }, // GREEN 100 × 25
      contractAgeDays: 400,
      activeUsers: { active: 4, entitled: 10 }, // 0.4 YELLOW 50 × 15
      usageTrend: { last90: 50, previous90: 100 }, // 0.5 RED 0 × 15
      daysToRenewal: 200, // GREEN 100 × 10
      overdueReceivables: { days: 10, amount: '100.00', currency: 'USD' }, // YELLOW 50 × 10
      openFindings: { count: 3 }, // RED 0 × 10
      daysSinceLastUsage: 2, // GREEN 100 × 15
    });
    expect(r.coverage).toBe(1);
    expect(r.score).toBe((100 * 25 + 50 * 15 + 0 + 100 * 10 + 50 * 10 + 0 + 100 * 15) / 100);
    expect(r.band).toBe('YELLOW'); // 62.5
    expect(r.measures.map((m) => [m.key, m.band])).toEqual([
      ['utilisation', 'GREEN'],
      ['activeUsers', 'YELLOW'],
      ['usageTrend', 'RED'],
      ['daysToRenewal', 'GREEN'],
      ['overdueReceivables', 'YELLOW'],
      ['openFindings', 'RED'],
      ['daysSinceLastUsage', 'GREEN'],
    ]);
    expect(r.measures.reduce((s, m) => s + m.effectiveWeight, 0)).toBeCloseTo(1, 6);
  });

  it('drops a measure without data, shares its weight among the rest and reports the coverage', () => {
    const r = scoreHealth({ ...none, daysToRenewal: 30, daysSinceLastUsage: 1 }); // RED × 10, GREEN × 15
    expect(r.coverage).toBe(0.25);
    expect(r.score).toBe(60);
    const renewal = r.measures.find((m) => m.key === 'daysToRenewal')!;
    expect(renewal.effectiveWeight).toBe(0.4);
    const util = r.measures.find((m) => m.key === 'utilisation')!;
    expect(util).toMatchObject({ value: null, band: null, points: null, effectiveWeight: 0 });
    expect(util.explanation).toMatch(/^no data/);
  });

  it('has no score at all without data', () => {
    expect(scoreHealth(none)).toMatchObject({ score: null, band: null, coverage: 0 });
  });

  it('uses gentler utilisation bands while the contract is young', () => {
    const u = { ratio: 0.5, byModel: { DEVICE_LOCKED: { entitlements: 2, ratio: 0.5 } } };
    expect(scoreHealth({ ...none, utilisation: u, contractAgeDays: 30 }).measures[0]!.band).toBe('GREEN');
    expect(scoreHealth({ ...none, utilisation: u, contractAgeDays: 365 }).measures[0]!.band).toBe('YELLOW');
    expect(scoreHealth({ ...none, utilisation: u, contractAgeDays: 365 }).measures[0]!.explanation).toMatch(/mature-contract bands/);
  });

  it('counts the usage trend only with usage in the earlier window', () => {
    expect(scoreHealth({ ...none, usageTrend: { last90: 10, previous90: 0 } }).measures[2]!.band).toBeNull();
  });
});

describe('parseHealthConfig', () => {
  it('takes any part of the defaults and keeps the rest', () => {
    const c = parseHealthConfig('{"weights":{"daysToRenewal":0},"score":{"green":80}}');
    expect(c.weights.daysToRenewal).toBe(0);
    expect(c.weights.utilisation).toBe(DEFAULT_HEALTH_CONFIG.weights.utilisation);
    expect(c.score).toEqual({ green: 80, yellow: 40 });
    expect(parseHealthConfig(undefined)).toBe(DEFAULT_HEALTH_CONFIG);
  });

  it('refuses bad configuration with every problem named', () => {
    expect(() => parseHealthConfig('{nope')).toThrow(/not JSON/);
    expect(() => parseHealthConfig('{"weights":{"utilisation":-1},"bands":{"openFindings":{"green":5,"yellow":1}}}')).toThrow(
      /weights\.utilisation.*bands\.openFindings/,
    );
    expect(() => parseHealthConfig('{"weights":{"bogus":1}}')).toThrow(/weights/);
    expect(() => parseHealthConfig(JSON.stringify({ weights: Object.fromEntries(Object.keys(DEFAULT_HEALTH_CONFIG.weights).map((k) => [k, 0])) }))).toThrow(/at least one/);
  });

  it('maps the health band to a churn risk band for the CRM', () => {
    expect([riskFromHealth('GREEN'), riskFromHealth('YELLOW'), riskFromHealth('RED'), riskFromHealth(null)]).toEqual(['LOW', 'MEDIUM', 'HIGH', null]);
  });
});
