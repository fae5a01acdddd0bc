/**
 * The Integrations and Delivery pages' operations (docs/console.md), typed by hand like
 * operations.ts; the browser test runs each against the real hub.
 */
import { doc } from './api';
import type { Role } from './operations';

/** Roles that read connections, runs, the outbox and webhook deliveries (syncConnections, syncRuns, outbox, webhookDeliveries). */
export const SYNC_READ_ROLES: Role[] = ['ADMIN', 'OPERATIONS'];
/** Roles that replay dead letters (replayOutboxItem, replayDeadOutboxItems, replayWebhookDelivery). */
export const REPLAY_ROLES: Role[] = ['ADMIN'];
/** Roles that decide identity matches (confirmMatch, rejectMatch). */
export const MATCH_ACT_ROLES: Role[] = ['ADMIN', 'OPERATIONS'];
/** Roles that read rollouts and device groups and halt or resume a rollout. */
export const ROLLOUT_ROLES: Role[] = ['ADMIN', 'OPERATIONS', 'INTEGRATION'];

export interface SyncConnectionRow {
  id: string;
  name: string;
  type: string;
  enabled: boolean;
  pullEnabled: boolean;
  pushEnabled: boolean;
  maxAttempts: number;
  /** Every DEAD outbox item of the connection (not only those listed). */
  deadLetters: number;
  /** Its newest run, whether or not it is among the runs listed. */
  lastRun: { id: string; kind: string; object: string; status: string; startedAt: string } | null;
}

export interface SyncRunRow {
  id: string;
  connectionId: string;
  object: string;
  kind: string;
  status: string;
  trigger: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  read: number;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  failed: number;
  apiCalls: number;
  error: string | null;
  errors: { code: string; message: string; record: string | null }[];
}

export interface OutboxRow {
  id: string;
  connectionId: string;
  object: string;
  recordKey: string;
  accountId: string | null;
  status: string;
  attempts: number;
  lastErrorCode: string | null;
  lastError: string | null;
  deadAt: string | null;
  updatedAt: string;
}

export interface WebhookDeadRow {
  id: string;
  eventType: string;
  attemptCount: number;
  lastStatusCode: number | null;
  lastError: string | null;
  deadAt: string | null;
  endpoint: { id: string; url: string };
}

export interface MatchRow {
  id: string;
  confidence: number;
  createdAt: string;
  evidence: { rule: string; value: string; score: number }[];
  accountA: { id: string; name: string; domain: string | null; country: string | null };
  accountB: { id: string; name: string; domain: string | null; country: string | null };
}

export interface IntegrationsData {
  syncConnections?: { totalCount: number; edges: { node: SyncConnectionRow }[] };
  syncRuns?: { totalCount: number; edges: { node: SyncRunRow }[] };
  dead?: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: OutboxRow }[] };
  backlog?: { totalCount: number; edges: { node: OutboxRow }[] };
  webhookDeliveries?: { totalCount: number; edges: { node: WebhookDeadRow }[] };
  identityMatches: { totalCount: number; edges: { node: MatchRow }[] };
}

const OUTBOX_FIELDS = 'id connectionId object recordKey accountId status attempts lastErrorCode lastError deadAt updatedAt';

/**
 * One request: the review queue for every unscoped key; connections, runs, the outbox and dead
 * webhook deliveries only for ADMIN and OPERATIONS (`$ops`); the dead letters page by
 * `$deadAfter`. Small pages keep it well under the hub's cost limit (EHUB_MAX_QUERY_COMPLEXITY).
 */
export const INTEGRATIONS = doc<IntegrationsData, { ops: boolean; deadAfter: string | null }>(
  'ConsoleIntegrations',
  `query ConsoleIntegrations($ops: Boolean! = false, $deadAfter: String) {
  syncConnections(first: 20) @include(if: $ops) { totalCount edges { node { id name type enabled pullEnabled pushEnabled maxAttempts deadLetters lastRun { id kind object status startedAt } } } }
  syncRuns(first: 15) @include(if: $ops) {
    totalCount
    edges { node {
      id connectionId object kind status trigger startedAt finishedAt durationMs
      read created updated unchanged deleted failed apiCalls error errors { code message record }
    } }
  }
  dead: outbox(filter: { status: [DEAD] }, first: 25, after: $deadAfter) @include(if: $ops) { totalCount pageInfo { hasNextPage endCursor } edges { node { ${OUTBOX_FIELDS} } } }
  backlog: outbox(filter: { status: [PENDING, IN_FLIGHT, SUBMITTED, FAILED] }, first: 10) @include(if: $ops) { totalCount edges { node { ${OUTBOX_FIELDS} } } }
  webhookDeliveries(filter: { status: DEAD }, first: 10) @include(if: $ops) {
    totalCount edges { node { id eventType attemptCount lastStatusCode lastError deadAt endpoint { id url } } }
  }
  identityMatches(status: PENDING, first: 25) {
    totalCount
    edges { node {
      id confidence createdAt evidence { rule value score }
      accountA { id name domain country }
      accountB { id name domain country }
    } }
  }
}`,
);

export const REPLAY_OUTBOX_ITEM = doc<{ replayOutboxItem: { id: string; status: string } }, { id: string }>(
  'ConsoleReplayOutboxItem',
  `mutation ConsoleReplayOutboxItem($id: ID!) { replayOutboxItem(id: $id) { id status } }`,
);

export const REPLAY_DEAD_OUTBOX_ITEMS = doc<{ replayDeadOutboxItems: number }, { connectionId: string }>(
  'ConsoleReplayDeadOutboxItems',
  `mutation ConsoleReplayDeadOutboxItems($connectionId: ID!) { replayDeadOutboxItems(connectionId: $connectionId) }`,
);

export const REPLAY_WEBHOOK_DELIVERY = doc<{ replayWebhookDelivery: { id: string; status: string } }, { id: string }>(
  'ConsoleReplayWebhookDelivery',
  `mutation ConsoleReplayWebhookDelivery($id: ID!) { replayWebhookDelivery(id: $id) { id status } }`,
);

export const CONFIRM_MATCH = doc<{ confirmMatch: { id: string; status: string; mergeId: string | null } }, { id: string; reason: string | null }>(
  'ConsoleConfirmMatch',
  `mutation ConsoleConfirmMatch($id: ID!, $reason: String) { confirmMatch(id: $id, reason: $reason) { id status mergeId } }`,
);

export const REJECT_MATCH = doc<{ rejectMatch: { id: string; status: string } }, { id: string; reason: string }>(
  'ConsoleRejectMatch',
  `mutation ConsoleRejectMatch($id: ID!, $reason: String!) { rejectMatch(id: $id, reason: $reason) { id status } }`,
);

export interface ProductOption {
  id: string;
  sku: string;
  name: string;
  kind: string;
}

/** The product picker of the Delivery page (the fleet queries are per product). */
export const DELIVERY_PRODUCTS = doc<{ products: { edges: { node: ProductOption }[] } }>(
  'ConsoleDeliveryProducts',
  `query ConsoleDeliveryProducts { products(first: 100) { edges { node { id sku name kind } } } }`,
);

export interface ReleaseRow {
  id: string;
  version: string;
  channel: string;
  status: string;
  releaseDate: string | null;
  yankReason: string | null;
  requiredFeatures: string[];
}

export interface DeliveryData {
  releases: ReleaseRow[];
  deliveryStatus: {
    sku: string;
    releaseId: string | null;
    version: string | null;
    devices: number;
    upToDate: number;
    offered: number;
    notified: number;
    versions: { version: string | null; devices: number }[];
    heldBack: { code: string; devices: number }[];
    renewalOpportunities: { accountId: string; devices: number; account: { name: string } }[];
  };
  deviceGroups?: { group: string; devices: number }[];
}

/** One product's releases, where its fleet stands against a release (default: the newest published STABLE one) and, for ADMIN, OPERATIONS and INTEGRATION, its device groups. */
export const DELIVERY = doc<DeliveryData, { product: string; productRef: string; release: string | null; ops: boolean }>(
  'ConsoleDelivery',
  // The same product twice: releases takes an ID, deliveryStatus a String (both: id or SKU).
  `query ConsoleDelivery($product: String!, $productRef: ID!, $release: ID, $ops: Boolean! = false) {
  releases(product: $productRef) { id version channel status releaseDate yankReason requiredFeatures }
  deliveryStatus(product: $product, release: $release) {
    sku releaseId version devices upToDate offered notified
    versions { version devices }
    heldBack { code devices }
    renewalOpportunities { accountId devices account { name } }
  }
  deviceGroups(product: $product) @include(if: $ops) { group devices }
}`,
);

export interface RolloutView {
  releaseId: string;
  status: string;
  stage: number;
  stages: number[];
  percent: number;
  groups: string[];
  autoAdvance: boolean;
  failureThreshold: number;
  minReports: number;
  installed: number;
  failed: number;
  devicesAdmitted: number;
  devicesTotal: number;
  startedAt: string;
  stageStartedAt: string;
  haltedAt: string | null;
  haltedReason: string | null;
}

const ROLLOUT_FIELDS = 'releaseId status stage stages percent groups autoAdvance failureThreshold minReports installed failed devicesAdmitted devicesTotal startedAt stageStartedAt haltedAt haltedReason';

export const ROLLOUT = doc<{ rollout: RolloutView | null }, { release: string }>('ConsoleRollout', `query ConsoleRollout($release: ID!) { rollout(release: $release) { ${ROLLOUT_FIELDS} } }`);

export const HALT_ROLLOUT = doc<{ haltRollout: RolloutView }, { release: string; reason: string | null }>(
  'ConsoleHaltRollout',
  `mutation ConsoleHaltRollout($release: ID!, $reason: String) { haltRollout(release: $release, reason: $reason) { ${ROLLOUT_FIELDS} } }`,
);

export const YANK_RELEASE = doc<{ upsertRelease: { id: string; version: string; status: string; yankReason: string | null } }, { product: string; version: string; reason: string }>(
  'ConsoleYankRelease',
  `mutation ConsoleYankRelease($product: ID!, $version: String!, $reason: String!) {
  upsertRelease(input: { product: $product, version: $version, status: YANKED, yankReason: $reason }) { id version status yankReason }
}`,
);

export interface StartRolloutVars {
  release: string;
  stages?: number[];
  groups?: string[];
  failureThreshold?: number;
  minReports?: number;
  autoAdvance: boolean;
}

export const START_ROLLOUT = doc<{ startRollout: RolloutView }, { input: StartRolloutVars }>(
  'ConsoleStartRollout',
  `mutation ConsoleStartRollout($input: StartRolloutInput!) { startRollout(input: $input) { ${ROLLOUT_FIELDS} } }`,
);

export const ADVANCE_ROLLOUT = doc<{ advanceRollout: RolloutView }, { release: string }>(
  'ConsoleAdvanceRollout',
  `mutation ConsoleAdvanceRollout($release: ID!) { advanceRollout(release: $release) { ${ROLLOUT_FIELDS} } }`,
);

export const RESUME_ROLLOUT = doc<{ resumeRollout: RolloutView }, { release: string }>(
  'ConsoleResumeRollout',
  `mutation ConsoleResumeRollout($release: ID!) { resumeRollout(release: $release) { ${ROLLOUT_FIELDS} } }`,
);
