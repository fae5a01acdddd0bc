import { registerEnumType } from 'type-graphql';

/** What a compliance finding is about. */
export enum FindingKind {
  OVERUSE = 'OVERUSE',
  UNDERUSE = 'UNDERUSE',
  UNENTITLED_USE = 'UNENTITLED_USE',
  EXPIRED_USE = 'EXPIRED_USE',
  DEVICE_OVER_LIMIT = 'DEVICE_OVER_LIMIT',
  DUPLICATE_SOURCE = 'DUPLICATE_SOURCE',
}

/** Where a finding is in its review. */
export enum FindingStatus {
  OPEN = 'OPEN',
  ACKNOWLEDGED = 'ACKNOWLEDGED',
  RESOLVED = 'RESOLVED',
}

/** The webhook event types the compliance domain raises (the `type` of a notification). */
export enum NotificationType {
  USAGE_THRESHOLD = 'usage.threshold',
  ENTITLEMENT_EXPIRING = 'entitlement.expiring',
  COMPLIANCE_FINDING = 'compliance.finding',
  CONSUMPTION_OVERAGE = 'consumption.overage',
}

registerEnumType(FindingKind, {
  name: 'FindingKind',
  description: 'What a compliance finding is about (docs/compliance.md has each rule and its leakage formula).',
  valuesConfig: {
    OVERUSE: { description: 'Usage above the entitled amount in a period (metered limits, named users, floating licences, capped features).' },
    UNDERUSE: { description: 'Shelfware: utilisation below EHUB_UNDERUSE_THRESHOLD over an EHUB_UNDERUSE_DAYS window. Leakage 0.' },
    UNENTITLED_USE: { description: 'Usage of a feature the account has never been entitled to at that time.' },
    EXPIRED_USE: { description: 'Usage after an entitlement for the feature ended (past its grace period), with nothing else covering it.' },
    DEVICE_OVER_LIMIT: { description: 'More active devices than a DEVICE_LOCKED entitlement allows (e.g. after a downgrade).' },
    DUPLICATE_SOURCE: {
      description:
        'One deal arrived from two sources (a CRM deal and the ERP order booked from it): the hub granted it once, from the source `details.granting` names, and recorded the other copy without granting. Leakage 0.',
    },
  },
});

registerEnumType(FindingStatus, {
  name: 'FindingStatus',
  description: 'Where a finding is in its review.',
  valuesConfig: {
    OPEN: { description: 'New, or reopened because the condition came back after the job had resolved it.' },
    ACKNOWLEDGED: { description: 'Someone is on it.' },
    RESOLVED: { description: 'Dealt with (by a person), or the condition no longer holds (by the compliance run).' },
  },
});

registerEnumType(NotificationType, {
  name: 'NotificationType',
  description: 'The webhook event type a notification was raised as.',
  valuesConfig: {
    USAGE_THRESHOLD: { description: '`usage.threshold`: consumption crossed a percentage of a period\'s entitlement.' },
    ENTITLEMENT_EXPIRING: { description: '`entitlement.expiring`: a term ends within a number of days.' },
    COMPLIANCE_FINDING: { description: '`compliance.finding`: a new compliance finding.' },
    CONSUMPTION_OVERAGE: { description: '`consumption.overage`: a consumption beyond the limit under policy ALLOW_AND_NOTIFY.' },
  },
});
