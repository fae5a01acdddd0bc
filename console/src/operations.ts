/**
 * The console's GraphQL operations, typed by hand (schema.graphql is the contract; the browser
 * test runs every one against the real hub, so a drift fails it). GraphQL Code Generator
 * would generate these types; see docs/console.md.
 */
import { doc } from './api';
import type { Money } from './format';

export type Role = 'ADMIN' | 'OPERATIONS' | 'FINANCE' | 'ANALYST' | 'INTEGRATION' | 'READONLY';
export type HealthBand = 'GREEN' | 'YELLOW' | 'RED';
export type ChurnBand = 'LOW' | 'MEDIUM' | 'HIGH';

/** Roles that read analytics (portfolioOverview, customer360, health, churn). */
export const READ_ROLES: Role[] = ['ADMIN', 'OPERATIONS', 'FINANCE', 'ANALYST'];
/** Roles that may change things the console offers (recompute a health score). */
export const ACT_ROLES: Role[] = ['ADMIN', 'OPERATIONS'];
/** Roles that read the sync connections and runs. */
export const SYNC_ROLES: Role[] = ['ADMIN', 'OPERATIONS'];

export interface Viewer {
  id: string;
  name: string;
  prefix: string;
  role: Role;
  accountId: string | null;
}

export const ME = doc<{ me: Viewer }>('ConsoleMe', `query ConsoleMe { me { id name prefix role accountId } }`);

export interface OverviewData {
  portfolioOverview: {
    asOf: string;
    accounts: number;
    arr: Money[];
    arrByProduct: { sku: string; productName: string; model: string; live: number; accounts: number; arr: Money[]; utilizationPercent: number | null }[];
    renewalDays: number;
    renewingArr: Money[];
    renewals: {
      accountId: string;
      orderId: string;
      endDate: string;
      daysLeft: number;
      skus: string[];
      arr: Money;
      account: { name: string; health: { effectiveBand: HealthBand } | null; churnRisk: { band: ChurnBand; probability: number } | null };
    }[];
    findings: { kind: string; open: number; leakage: Money[] }[];
    leakage: Money[];
    health: { band: HealthBand; accounts: number }[];
    unscored: number;
  };
  syncConnections?: { edges: { node: { id: string; name: string; type: string; enabled: boolean } }[] };
  syncRuns?: { edges: { node: { id: string; connectionId: string; object: string; kind: string; status: string; startedAt: string; failed: number } }[] };
}

export const OVERVIEW = doc<OverviewData, { days: number; sync: boolean }>(
  'ConsoleOverview',
  `query ConsoleOverview($days: Int! = 90, $sync: Boolean! = false) {
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
}`,
);

export interface CustomerRow {
  id: string;
  name: string;
  domain: string | null;
  country: string | null;
  segment: string | null;
  status: string;
  currency: string;
  health?: { effectiveScore: number; effectiveBand: HealthBand } | null;
  churnRisk?: { band: ChurnBand; probability: number } | null;
}

export const CUSTOMERS = doc<
  { accounts: { totalCount: number; edges: { node: CustomerRow }[] } },
  { search: string | null; first: number; scores: boolean }
>(
  'ConsoleCustomers',
  `query ConsoleCustomers($search: String, $first: Int! = 200, $scores: Boolean! = false) {
  accounts(search: $search, first: $first) {
    totalCount
    edges { node {
      id name domain country segment status currency
      health @include(if: $scores) { effectiveScore effectiveBand }
      churnRisk @include(if: $scores) { band probability }
    } }
  }
}`,
);

export interface Customer360Data {
  customer360: {
    account: { id: string; name: string; domain: string | null; country: string | null; segment: string | null; status: string; currency: string };
    arr: Money[];
    utilizationPercent: number | null;
    health: {
      effectiveScore: number;
      effectiveBand: HealthBand;
      coverage: number;
      measures: { key: string; band: HealthBand | null; points: number | null; weight: number; explanation: string }[];
    } | null;
    churnRisk: { band: ChurnBand; probability: number; termEnd: string; sku: string } | null;
    linkedRecords: { system: string; object: string; externalId: string; url: string | null; connectionName: string | null }[];
    entitlementGroups: {
      sku: string;
      productName: string;
      model: string;
      live: number;
      liveQuantity: string;
      used: string | null;
      capacity: string | null;
      utilizationPercent: number | null;
      arr: Money[];
      nextEndDate: string | null;
    }[];
    licensesInUse: { devicesActive: number; seatsAssigned: number; leasesLive: number };
    usageTrend: {
      currentFrom: string;
      currentTo: string;
      ratio: number | null;
      meters: { meterKey: string; meterName: string; unit: string; current: string; previous: string; currentEvents: number; previousEvents: number; ratio: number | null }[];
    };
    openFindings: { count: number; leakage: Money[]; items: { id: string; kind: string; status: string; featureKey: string | null; meterKey: string | null; over: string; unit: string; leakage: Money | null }[] };
    upcomingRenewals: { withinDays: number; arr: Money[]; renewals: { endDate: string; daysLeft: number; orderId: string; skus: string[]; arr: Money }[] };
    receivables: { currency: string; openBalance: Money; overdue: Money; maxOverdueDays: number }[];
    revenue: { currency: string; allocated: Money; recognised: Money; deferred: Money }[];
    modelFit: { summary: string | null; products: { sku: string; currentModel: string; recommendation: string; reason: string }[] };
    syncStatus: { system: string; connectionName: string | null; lastPullAt: string | null; lastPullStatus: string | null; outboxPending: number; outboxDead: number }[];
    timeline: { at: string; kind: string; summary: string }[];
  };
}

export const CUSTOMER360 = doc<Customer360Data, { id: string }>(
  'ConsoleCustomer360',
  `query ConsoleCustomer360($id: ID!) {
  customer360(account: $id, renewalDays: 180, timelineLimit: 20) {
    account { id name domain country segment status currency }
    arr { amountMinor currency }
    utilizationPercent
    health { effectiveScore effectiveBand coverage measures { key band points weight explanation } }
    churnRisk { band probability termEnd sku }
    linkedRecords { system object externalId url connectionName }
    entitlementGroups { sku productName model live liveQuantity used capacity utilizationPercent arr { amountMinor currency } nextEndDate }
    licensesInUse { devicesActive seatsAssigned leasesLive }
    usageTrend { currentFrom currentTo ratio meters { meterKey meterName unit current previous currentEvents previousEvents ratio } }
    openFindings { count leakage { amountMinor currency } items { id kind status featureKey meterKey over unit leakage { amountMinor currency } } }
    upcomingRenewals { withinDays arr { amountMinor currency } renewals { endDate daysLeft orderId skus arr { amountMinor currency } } }
    receivables { currency openBalance { amountMinor currency } overdue { amountMinor currency } maxOverdueDays }
    revenue { currency allocated { amountMinor currency } recognised { amountMinor currency } deferred { amountMinor currency } }
    modelFit { summary products { sku currentModel recommendation reason } }
    syncStatus { system connectionName lastPullAt lastPullStatus outboxPending outboxDead }
    timeline { at kind summary }
  }
}`,
);

export const RECOMPUTE_HEALTH = doc<{ recomputeHealth: { effectiveScore: number; effectiveBand: HealthBand } }, { id: string }>(
  'ConsoleRecomputeHealth',
  `mutation ConsoleRecomputeHealth($id: ID!) { recomputeHealth(accountId: $id) { effectiveScore effectiveBand } }`,
);

/** Roles that may set a compliance finding's status (setComplianceFindingStatus). */
export const FINDING_ACT_ROLES: Role[] = ['ADMIN', 'OPERATIONS'];
/** Roles that read the revenue schedule and periods, download the finance exports and close a period. */
export const FINANCE_ROLES: Role[] = ['ADMIN', 'FINANCE'];

export type FindingStatus = 'OPEN' | 'ACKNOWLEDGED' | 'RESOLVED';
export const FINDING_KINDS = ['OVERUSE', 'UNDERUSE', 'UNENTITLED_USE', 'EXPIRED_USE', 'DEVICE_OVER_LIMIT', 'DUPLICATE_SOURCE'] as const;

export interface FindingRow {
  id: string;
  kind: string;
  accountId: string;
  account: { name: string };
  entitlementId: string | null;
  featureKey: string | null;
  meterKey: string | null;
  periodStart: string;
  periodEnd: string | null;
  used: string;
  entitled: string | null;
  over: string;
  unit: string;
  leakage: Money | null;
  status: FindingStatus;
  statusNote: string | null;
  statusChangedAt: string | null;
}

/** The console's share of ComplianceFindingFilterInput. */
export interface FindingFilter {
  status?: FindingStatus;
  kind?: string;
  accountId?: string;
  entitlementId?: string;
  featureKey?: string;
  /** Findings whose period ends after this instant. */
  from?: string;
  /** Findings whose period starts before this instant. */
  to?: string;
}

const FINDING_FIELDS = `id kind accountId account { name } entitlementId featureKey meterKey periodStart periodEnd used entitled over unit leakage { amountMinor currency } status statusNote statusChangedAt`;

export const FINDINGS = doc<
  { complianceFindings: { totalCount: number; leakageTotals: Money[]; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: FindingRow }[] } },
  { filter: FindingFilter; first: number; after: string | null }
>(
  'ConsoleFindings',
  `query ConsoleFindings($filter: ComplianceFindingFilterInput, $first: Int! = 100, $after: String) {
  complianceFindings(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    leakageTotals { amountMinor currency }
    edges { node { ${FINDING_FIELDS} } }
  }
}`,
);

export const SET_FINDING_STATUS = doc<{ setComplianceFindingStatus: FindingRow }, { id: string; status: FindingStatus; note: string | null }>(
  'ConsoleSetFindingStatus',
  `mutation ConsoleSetFindingStatus($id: ID!, $status: FindingStatus!, $note: String) {
  setComplianceFindingStatus(id: $id, status: $status, note: $note) { ${FINDING_FIELDS} }
}`,
);

export interface FinanceData {
  revenueSchedule: {
    hasErrors: boolean;
    totals: { currency: string; allocated: Money; recognised: Money; deferred: Money }[];
    obligations: { id: string; error: string | null; lines: { month: string; amount: Money }[] }[];
  };
  revenuePeriods: { month: string; closedAt: string }[];
}

export const FINANCE = doc<FinanceData, { from: string; to: string }>(
  'ConsoleFinance',
  `query ConsoleFinance($from: String!, $to: String!) {
  revenueSchedule(filter: { from: $from, to: $to }) {
    hasErrors
    totals { currency allocated { amountMinor currency } recognised { amountMinor currency } deferred { amountMinor currency } }
    obligations { id error lines { month amount { amountMinor currency } } }
  }
  revenuePeriods { month closedAt }
}`,
);

export const CLOSE_PERIOD = doc<{ closePeriod: { month: string; closedAt: string } }, { month: string }>(
  'ConsoleClosePeriod',
  `mutation ConsoleClosePeriod($month: String!) { closePeriod(month: $month) { month closedAt } }`,
);
