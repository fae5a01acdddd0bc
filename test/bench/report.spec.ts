import { addResult, roundSummary, type RunReport } from '../../bench/support/report';
import type { Figures } from '../../bench/support/types';

const options = { duration: 1, warmup: 0, connections: 32, only: [], rounds: 3 };

function report(): RunReport {
  return {
    date: '2026-12-06T00:00:00.000Z',
    commit: 'test',
    command: 'npm run bench',
    machine: { cpus: 2, cpuModel: 'test', memoryGiB: 1, platform: 'test', node: 'v24', loadAverageAtStart: 0 },
    database: { kind: 'embedded', serverVersion: '18' },
    options,
    loadGenerator: 'test',
    results: [],
  };
}

function figures(requestsPerSec: number, headline?: Figures['headline']): Figures {
  return {
    requestsPerSec,
    requests: requestsPerSec,
    durationSec: 1,
    connections: 32,
    latencyMs: { p50: 1, p90: 1, p99: 1, avg: 1, max: 1 },
    errors: 0,
    timeouts: 0,
    non2xx: 0,
    mismatches: 0,
    statusCodes: { '2xx': requestsPerSec },
    serverEventLoopUtilization: 0.9,
    ...(headline ? { headline } : {}),
  };
}

describe('roundSummary (npm run bench -- --rounds n)', () => {
  it("gives each scenario's ratios to its own round's baseline and their median, and the median of headlines that share a unit", () => {
    const r = report();
    const rounds: [number, number, number][] = [
      [20_000, 8_000, 86.6],
      [10_000, 5_000, 77.8],
      [40_000, 12_000, 92.1],
    ];
    rounds.forEach(([bare, check, share], i) => {
      addResult(r, 'bare', 'baseline', figures(bare), undefined, i + 1);
      addResult(r, 'check-rest', 'check', figures(check, { value: share, unit: `% of check-floor (${check + i} req/s)`, per: '% of check-floor' }), undefined, i + 1);
      addResult(r, 'fulfilment', 'orders', figures(100, { value: 1000 * (i + 1), unit: 'order lines/s' }), undefined, i + 1);
      addResult(r, 'mixed', 'units differ', figures(100, { value: i, unit: i ? 'ms p50' : 'ms p99' }), undefined, i + 1);
    });
    const summary = roundSummary(r);
    expect(summary.map((s) => s.name)).toEqual(['check-rest', 'fulfilment', 'mixed']);
    const check = summary[0]!;
    expect(check.ratios).toEqual([0.4, 0.5, 0.3]);
    expect(check.median).toBe(0.4);
    expect(check.medianReqPerSec).toBe(8_000);
    expect(check.headline).toEqual({ values: [86.6, 77.8, 92.1], median: 86.6, unit: '% of check-floor' });
    expect(summary[1]!.headline).toEqual({ values: [1000, 2000, 3000], median: 2000, unit: 'order lines/s' });
    // Headlines in different units have no median.
    expect(summary[2]!.headline).toBeUndefined();
  });

  it('leaves out the headline when a round has none, and failed rounds altogether', () => {
    const r = report();
    addResult(r, 'bare', 'baseline', figures(10_000), undefined, 1);
    addResult(r, 'check-rest', 'check', figures(4_000), undefined, 1);
    addResult(r, 'bare', 'baseline', figures(10_000), undefined, 2);
    addResult(r, 'check-rest', 'check', figures(5_000, { value: 80, unit: '% of check-floor (1 req/s)', per: '% of check-floor' }), undefined, 2);
    addResult(r, 'bare', 'baseline', figures(10_000), undefined, 3);
    addResult(r, 'check-rest', 'check', null, new Error('probe failed'), 3);
    const [check] = roundSummary(r);
    expect(check!.ratios).toEqual([0.4, 0.5]);
    expect(check!.median).toBeCloseTo(0.45);
    expect(check!.headline).toBeUndefined();
  });
});
