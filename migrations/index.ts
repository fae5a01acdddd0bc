import { AuthAndAudit1764300000000 } from './1764300000000-AuthAndAudit';
import { Catalog1764300100000 } from './1764300100000-Catalog';
import { Accounts1764300200000 } from './1764300200000-Accounts';
import { OrdersAndEntitlements1764300300000 } from './1764300300000-OrdersAndEntitlements';
import { Usage1764300500000 } from './1764300500000-Usage';
import { Compliance1764300600000 } from './1764300600000-Compliance';
import { Webhooks1764300700000 } from './1764300700000-Webhooks';
import { Revenue1764300800000 } from './1764300800000-Revenue';
import { RevenueAllocation1764300900000 } from './1764300900000-RevenueAllocation';
import { OverageUnitPrice1764301000000 } from './1764301000000-OverageUnitPrice';
import { Sync1764301100000 } from './1764301100000-Sync';
import { SyncSubmitted1764301200000 } from './1764301200000-SyncSubmitted';
import { ApiKeyExpiry1764301600000 } from './1764301600000-ApiKeyExpiry';
import { ErpInbound1764302000000 } from './1764302000000-ErpInbound';
import { ErpOutbound1764302100000 } from './1764302100000-ErpOutbound';
import { Identity1764302200000 } from './1764302200000-Identity';
import { BiViews1764302400000 } from './1764302400000-BiViews';
import { ChurnModel1764302500000 } from './1764302500000-ChurnModel';
import { AccountHealth1764302600000 } from './1764302600000-AccountHealth';
import { Customer360Indexes1764302700000 } from './1764302700000-Customer360Indexes';
import { BiAccountsMergedInto1764302900000 } from './1764302900000-BiAccountsMergedInto';
import { TrueupOpportunities1764302950000 } from './1764302950000-TrueupOpportunities';
import { ReceivableHistory1764303200000 } from './1764303200000-ReceivableHistory';
import { SupportTerms1764303300000 } from './1764303300000-SupportTerms';
import { SupportEntitlementOutbox1764303350000 } from './1764303350000-SupportEntitlementOutbox';
import { ModelFit1764302800000 } from './1764302800000-ModelFit';
import { Delivery1764303400000 } from './1764303400000-Delivery';
import { ModelFitAnalysis1764303500000 } from './1764303500000-ModelFitAnalysis';
import { DeviceUpdates1764303600000 } from './1764303600000-DeviceUpdates';
import { Rollouts1764303650000 } from './1764303650000-Rollouts';
import { HotPathIndexes1764303800000 } from './1764303800000-HotPathIndexes';
import { UsagePartitions1764304000000 } from './1764304000000-UsagePartitions';
import { ContactAttributes1764304100000 } from './1764304100000-ContactAttributes';
import { OrderLookupIndexes1764304200000 } from './1764304200000-OrderLookupIndexes';
import { UsageRollupPartitions1764304300000 } from './1764304300000-UsageRollupPartitions';
import { UpdateNoticesSent1764304400000 } from './1764304400000-UpdateNoticesSent';
import { DeviceGroupsAndDeliveryRenewals1764303900000 } from './1764303900000-DeviceGroupsAndDeliveryRenewals';

/**
 * Every migration, in order. Listed explicitly (not globbed) so the app, the CLI and the
 * tests run exactly the same set from source or from dist/. Append-only.
 */
export const migrations = [
  AuthAndAudit1764300000000,
  Catalog1764300100000,
  Accounts1764300200000,
  OrdersAndEntitlements1764300300000,
  Usage1764300500000,
  Compliance1764300600000,
  Webhooks1764300700000,
  Revenue1764300800000,
  RevenueAllocation1764300900000,
  OverageUnitPrice1764301000000,
  Sync1764301100000,
  SyncSubmitted1764301200000,
  ApiKeyExpiry1764301600000,
  ErpInbound1764302000000,
  ErpOutbound1764302100000,
  Identity1764302200000,
  BiViews1764302400000,
  ChurnModel1764302500000,
  AccountHealth1764302600000,
  Customer360Indexes1764302700000,
  ModelFit1764302800000,
  BiAccountsMergedInto1764302900000,
  TrueupOpportunities1764302950000,
  ReceivableHistory1764303200000,
  SupportTerms1764303300000,
  SupportEntitlementOutbox1764303350000,
  Delivery1764303400000,
  ModelFitAnalysis1764303500000,
  DeviceUpdates1764303600000,
  Rollouts1764303650000,
  HotPathIndexes1764303800000,
  DeviceGroupsAndDeliveryRenewals1764303900000,
  UsagePartitions1764304000000,
  ContactAttributes1764304100000,
  OrderLookupIndexes1764304200000,
  UsageRollupPartitions1764304300000,
  UpdateNoticesSent1764304400000,
];
