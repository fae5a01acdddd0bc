import DataLoader from 'dataloader';
import type { FactRow } from '../sync/sync-payloads';
import type { Customer360Service } from './customer360.service';
import type { LicensesInUse, LinkedRecord, OpenFindings, RevenuePosition, SyncSystemStatus, TimelineEvent, UsageTrend } from './customer360.types';

/** One account's timeline with its limit (the same for every account of a request). */
export interface TimelineKey {
  accountId: string;
  limit: number;
}

/**
 * Customer 360 sections, each keyed by account id and batched: one statement per section per
 * request, however many accounts are asked for and however much data each one has.
 */
export interface Customer360Loaders {
  linkedRecords: DataLoader<string, LinkedRecord[]>;
  /** Entitlement facts: entitlement groups, ARR, utilisation and renewals all derive from them. */
  facts: DataLoader<string, FactRow[]>;
  licensesInUse: DataLoader<string, LicensesInUse>;
  usageTrend: DataLoader<string, UsageTrend>;
  openFindings: DataLoader<string, OpenFindings>;
  revenue: DataLoader<string, RevenuePosition[]>;
  syncStatus: DataLoader<string, SyncSystemStatus[]>;
  timeline: DataLoader<TimelineKey, TimelineEvent[], string>;
}

function byAccount<V>(read: (ids: readonly string[]) => Promise<Map<string, V>>): DataLoader<string, V> {
  return new DataLoader(async (ids) => {
    const got = await read(ids);
    return ids.map((id) => got.get(id)!);
  });
}

export function createCustomer360Loaders(service: Customer360Service): Customer360Loaders {
  return {
    linkedRecords: byAccount((ids) => service.linkedRecords(ids)),
    facts: byAccount((ids) => service.facts(ids)),
    licensesInUse: byAccount((ids) => service.licensesInUse(ids)),
    usageTrend: byAccount((ids) => service.usageTrend(ids)),
    openFindings: byAccount((ids) => service.openFindings(ids)),
    revenue: byAccount((ids) => service.revenuePositions(ids)),
    syncStatus: byAccount((ids) => service.syncStatus(ids)),
    timeline: new DataLoader(
      async (keys) => {
        // Keys of one request share the limit; group anyway so a mixed batch stays correct.
        const out = new Map<string, TimelineEvent[]>();
        for (const limit of new Set(keys.map((k) => k.limit))) {
          const ids = [...new Set(keys.filter((k) => k.limit === limit).map((k) => k.accountId))];
          for (const [id, events] of await service.timeline(ids, limit)) out.set(`${limit}:${id}`, events);
        }
        return keys.map((k) => out.get(`${k.limit}:${k.accountId}`) ?? []);
      },
      { cacheKeyFn: (k) => `${k.limit}:${k.accountId}` },
    ),
  };
}
