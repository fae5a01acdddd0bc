import type { Scenario } from '../support/types';
import { bare } from './bare.scenario';
import { trivial } from './trivial.scenario';
import { fulfilment } from './fulfilment.scenario';
import { check } from './check.scenario';
import { checkRest } from './check-rest.scenario';
import { checkFloor } from './check-floor.scenario';
import { ingest } from './ingest.scenario';
import { usageSeries } from './usage-series.scenario';
import { revenueExport } from './revenue-export.scenario';
import { salesforcePush } from './salesforce-push.scenario';
import { salesforcePull } from './salesforce-pull.scenario';
import { netsuitePull } from './netsuite-pull.scenario';
import { csvImport } from './csv-import.scenario';
import { customer360 } from './customer360.scenario';
import { portfolioOverview } from './portfolio-overview.scenario';
import { netsuiteReceivablesPull } from './netsuite-receivables-pull.scenario';
import { delivery } from './delivery.scenario';
import { otel } from './otel.scenario';
import { deviceUpdate } from './device-update.scenario';
import { usageStream } from './usage-stream.scenario';
import { usageScale } from './usage-scale.scenario';

/** The scenario every run measures first; ratios are against it. */
export const BASELINE = bare;

/**
 * Every scenario, in run order. To add one: write `<name>.scenario.ts` exporting a Scenario
 * (verify one response first, then `ctx.load(...)` with `expectBody` when the answer is fixed)
 * and list it here. `npm run bench -- --only <name>` runs it alone (with the baseline).
 */
export const scenarios: Scenario[] = [bare, trivial, check, checkFloor, checkRest, fulfilment, ingest, usageSeries, revenueExport, salesforcePull, salesforcePush, netsuitePull, csvImport, customer360, portfolioOverview, netsuiteReceivablesPull, delivery, otel, deviceUpdate, usageStream, usageScale];
