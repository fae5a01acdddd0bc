import type { Config } from '../config';
import type { Db } from '../db/db';
import { ApiKeyService } from '../auth/api-key.service';
import { AuditService } from '../audit/audit.service';
import { CatalogService } from '../catalog/catalog.service';
import { AccountService } from '../accounts/account.service';
import { LicensingService } from '../licensing/licensing.service';
import { CertificateService } from '../certificates/certificate.service';
import { UsageService } from '../usage/usage.service';
import { AnalyticsService } from '../analytics/analytics.service';
import { InsightsService } from '../analytics/insights.service';
import { ComplianceService } from '../compliance/compliance.service';
import { WebhookService } from '../webhooks/webhook.service';
import { syncOutboxSubscriber } from '../sync/sync-outbox';
import { RevenueService } from '../revenue/revenue.service';
import { EntitlementService } from '../entitlements/entitlement.service';
import { OrderService } from '../orders/order.service';
import { SyncService } from '../sync/sync.service';
import { RetentionService } from '../jobs/retention';
import { UsagePartitionService } from '../usage/usage.partitions';
import { HealthService } from '../health/health.service';
import { ReceivableService } from '../receivables/receivable.service';
import { Customer360Service } from '../customer360/customer360.service';
import { IdentityService } from '../identity/identity.service';
import { ChurnService } from '../churn/churn.service';
import { healthBaseline } from '../churn/health-baseline';
import { ModelPriceService } from '../catalog/model-price.service';
import { ModelFitService } from '../modelfit/modelfit.service';
import { DeliveryService } from '../delivery/delivery.service';
import { DeviceUpdateService } from '../delivery/device-updates.service';
import { RolloutService } from '../delivery/rollout.service';
import { DeviceGroupService } from '../delivery/device-groups';
import { DeliveryRenewalService } from '../delivery/delivery-renewals.service';
import { DeliveryStatusService } from '../delivery/delivery-status.service';
import { noticeLedger, UpdateNotices } from '../delivery/update-notices';
import pino from 'pino';
import { SupportService } from '../support/support.service';

/** The hub's services, built once per process and shared by resolvers, the CLI and jobs. */
export interface Services {
  db: Db;
  config: Config;
  apiKeys: ApiKeyService;
  audit: AuditService;
  catalog: CatalogService;
  accounts: AccountService;
  licensing: LicensingService;
  certificates: CertificateService;
  usage: UsageService;
  analytics: AnalyticsService;
  insights: InsightsService;
  compliance: ComplianceService;
  webhooks: WebhookService;
  revenue: RevenueService;
  entitlements: EntitlementService;
  orders: OrderService;
  sync: SyncService;
  receivables: ReceivableService;
  retention: RetentionService;
  usagePartitions: UsagePartitionService;
  health: HealthService;
  customer360: Customer360Service;
  identity: IdentityService;
  churn: ChurnService;
  modelPrices: ModelPriceService;
  modelFit: ModelFitService;
  delivery: DeliveryService;
  deviceUpdates: DeviceUpdateService;
  rollouts: RolloutService;
  deviceGroups: DeviceGroupService;
  deliveryRenewals: DeliveryRenewalService;
  deliveryStatus: DeliveryStatusService;
  updateNotices: UpdateNotices;
  support: SupportService;
}

export function createServices(db: Db, config: Config): Services {
  const catalog = new CatalogService(db);
  const entitlements = new EntitlementService(db, config.EHUB_TIME_ZONE);
  const webhooks = new WebhookService(db, config);
  const revenue = new RevenueService(db, config);
  const accounts = new AccountService(db);
  const orders = new OrderService(db, catalog, entitlements, revenue);
  const usage = new UsageService(db, config);
  const receivables = new ReceivableService(db);
  const health = new HealthService(db, config);
  // The churn model is measured against the health score's rules as of each snapshot, which also score churn risk until a model is trained.
  const churn = new ChurnService(db, config);
  churn.setBaseline(healthBaseline(health.config));
  // The health score's overdue-receivables measure reads the ERP receivables (docs/health.md).
  health.useOverdueReader((_m, ids, at) => receivables.overdueForHealth(ids, at.toISOString().slice(0, 10)));
  const compliance = new ComplianceService(db, config);
  const analytics = new AnalyticsService(db, config);
  // Domains publish facts on their transactions; these act on them before the commit.
  db.events.subscribe('sync-outbox', syncOutboxSubscriber(config.EHUB_SYNC_USAGE_PUSH_INTERVAL_MS));
  db.events.subscribe('webhooks', webhooks.onEvents);
  const identity = new IdentityService(db, config);
  const certificates = new CertificateService(db, config);
  db.events.subscribe('identity', identity.onEvents);
  const apiKeys = new ApiKeyService(db);
  // Artifacts are signed with the certificate signing keys: one JWKS verifies both.
  const delivery = new DeliveryService(db, config, certificates.signingKeys);
  const deliveryStatus = new DeliveryStatusService(db);
  // Background notices log on their own logger (services have none): warnings about the broker.
  const updateNotices = new UpdateNotices(config.EHUB_MQTT_URL, noticeLedger(db), deliveryStatus, pino({ name: 'update-notices', level: config.LOG_LEVEL }), {
    ca: config.EHUB_MQTT_TLS_CA,
    cert: config.EHUB_MQTT_TLS_CERT,
    key: config.EHUB_MQTT_TLS_KEY,
    protocolVersion: config.EHUB_MQTT_PROTOCOL_VERSION,
    ackTimeoutMs: config.EHUB_MQTT_ACK_TIMEOUT_MS,
  });
  delivery.onPublished = (releaseId) => updateNotices.releaseAvailable(releaseId);
  const deliveryRenewals = new DeliveryRenewalService(db, deliveryStatus, config.EHUB_MAINTENANCE_RATE_PERCENT);
  // A release published, yanked or changed: the accounts with devices of its product are judged again (never fails the write).
  delivery.onReleaseChanged = (ctx, productId) =>
    deliveryRenewals.refreshProduct(ctx, productId).then(
      () => undefined,
      (err: unknown) => ctx.log.warn({ err, productId }, 'delivery renewal signal not refreshed; the delivery-renewals job will'),
    );
  db.events.subscribe('delivery-renewals', deliveryRenewals.onEvents);
  return {
    db,
    config,
    apiKeys,
    audit: new AuditService(db),
    catalog,
    accounts,
    licensing: new LicensingService(db, config.EHUB_TIME_ZONE),
    certificates,
    usage,
    analytics,
    insights: new InsightsService(db, analytics),
    compliance,
    webhooks,
    revenue,
    entitlements,
    orders,
    sync: new SyncService(db, config, { accounts, orders, usage, receivables, compliance }),
    receivables,
    retention: new RetentionService(db, config),
    usagePartitions: new UsagePartitionService(db, config),
    health,
    customer360: new Customer360Service(db, accounts, revenue, config.EHUB_TIME_ZONE),
    identity,
    churn,
    modelPrices: new ModelPriceService(db),
    modelFit: new ModelFitService(db, config),
    delivery,
    deviceUpdates: new DeviceUpdateService(db, apiKeys, delivery, updateNotices),
    rollouts: new RolloutService(db, updateNotices),
    deviceGroups: new DeviceGroupService(db),
    deliveryRenewals,
    deliveryStatus,
    updateNotices,
    support: new SupportService(db, config.EHUB_TIME_ZONE),
  };
}
