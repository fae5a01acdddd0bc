import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { generateBook } from '../../src/churn/book-generator';
import { systemContext } from '../../src/common/context';
import type { Scenario } from '../support/types';

/** Accounts in the generated book (BENCH_PORTFOLIO_ACCOUNTS); two years of orders, renewals and usage. */
const ACCOUNTS = Number(process.env.BENCH_PORTFOLIO_ACCOUNTS ?? 500);
/** One request in flight: the figure is one Overview load's server time (the console sends one). */
const CONNECTIONS = 1;

/** The console's Overview request (console/src/operations.ts, OVERVIEW) as an ADMIN sends it. */
const QUERY = `query ConsoleOverview($days: Int! = 90, $sync: Boolean! = false) {
  portfolioOverview(renewalDays: $days) {
    asOf accounts arr { amountMinor currency }
    arrByProduct { sku productName model live accounts arr { amountMinor currency } utilizationPercent }
    renewalDays renewingArr { amountMinor currency }
    renewals {
      accountId orderId endDate daysLeft skus arr { amountMinor currency }
      account { name health { effectiveBand } churnRisk { band probability } }
    }
    findings { kind open leakage { amountMinor currency } }
    leakage { amountMinor currency }
    health { band accounts }
    unscored
  }
  syncConnections(first: 20) @include(if: $sync) { edges { node { id name type enabled } } }
  syncRuns(first: 10) @include(if: $sync) { edges { node { id connectionId object kind status startedAt failed } } }
}`;

/** The same figures without the renewals' health and churn marks (to see what the marks cost). */
const BARE_QUERY = `query Bare { portfolioOverview(renewalDays: 90) { accounts arr { amountMinor currency } arrByProduct { sku model arr { amountMinor } } renewals { accountId endDate } findings { kind open } health { band accounts } unscored } }`;

/**
 * The web console's Overview (ADR 0052): `portfolioOverview` over a generated book (the
 * `ehub demo --book` generator) of ACCOUNTS customers with health scores, plus the sync
 * status, one request in flight. Every answer must equal the probe's.
 */
export const portfolioOverview: Scenario = {
  name: 'portfolio-overview',
  description: `the console's Overview request (portfolioOverview + sync status) over a book of ${ACCOUNTS} accounts, ${CONNECTIONS} in flight`,
  async run(ctx) {
    const t0 = performance.now();
    const sys = systemContext(pino({ level: 'silent' }), 'bench:portfolio');
    const book = await generateBook(ctx.hub.services, sys, { accounts: ACCOUNTS, years: 2, seed: 52 });
    await ctx.hub.services.health.recomputeAll(sys);
    await ctx.hub.services.db.ds.query('ANALYZE');
    console.error(`  generated ${book.accounts} accounts, ${book.lines} lines, ${book.usageRollups} usage rollups and scored them in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const variables = { days: 90, sync: true };
    const probe = await ctx.hub.post(QUERY, variables);
    const parsed = JSON.parse(probe.text) as { data?: { portfolioOverview?: { accounts: number; renewals: unknown[]; arrByProduct: unknown[] } }; errors?: unknown[] };
    const o = parsed.data?.portfolioOverview;
    if (probe.status !== 200 || parsed.errors?.length || o?.accounts !== ACCOUNTS) {
      throw new Error(`portfolio-overview: the probe request failed (${probe.status}): ${probe.text.slice(0, 500)}`);
    }
    console.error(`  answer: ${o.arrByProduct.length} product lines, ${o.renewals.length} renewals, ${probe.text.length.toLocaleString('en-US')} bytes`);
    const bareProbe = await ctx.hub.post(BARE_QUERY);
    const bare = await ctx.load({
      url: ctx.hub.url,
      headers: { authorization: `Bearer ${ctx.hub.adminKey}` },
      body: JSON.stringify({ query: BARE_QUERY, operationName: 'Bare' }),
      expectBody: bareProbe.text,
      connections: CONNECTIONS,
    });
    console.error(`  without the renewals' health and churn marks: p50 ${bare.latencyMs.p50} ms, p99 ${bare.latencyMs.p99} ms`);
    const figures = await ctx.load({
      url: ctx.hub.url,
      headers: { authorization: `Bearer ${ctx.hub.adminKey}` },
      body: JSON.stringify({ query: QUERY, variables, operationName: 'ConsoleOverview' }),
      expectBody: probe.text,
      connections: CONNECTIONS,
    });
    console.error(`  portfolioOverview: p50 ${figures.latencyMs.p50} ms, p99 ${figures.latencyMs.p99} ms, ${Math.round(figures.requestsPerSec)} req/s`);
    return { ...figures, headline: { value: figures.latencyMs.p50, unit: 'ms p50' } };
  },
};
