import DataLoader from 'dataloader';
import { groupBy } from '../common/collections';
import type { Connection } from '../common/pagination';
import type { ReceivableService } from './receivable.service';
import type { Receivable, ReceivableListArgs, ReceivablesSummary } from './receivable.types';

export interface ReceivableSummaryKey {
  accountId: string;
  asOf: string;
}

export interface ReceivablePageKey {
  accountId: string;
  args: ReceivableListArgs;
}

export interface ReceivableLoaders {
  /** `Account.receivables`: one statement per batch of accounts sharing the same day. */
  summaries: DataLoader<ReceivableSummaryKey, ReceivablesSummary[], string>;
  /** `Account.receivableDocuments`: one statement per batch of accounts sharing the same page arguments. */
  pages: DataLoader<ReceivablePageKey, Connection<Receivable>, string>;
}

const argsKey = (a: ReceivableListArgs) => JSON.stringify([a.first, a.after ?? null, a.kind ?? null, a.openOnly]);

export function createReceivableLoaders(service: ReceivableService): ReceivableLoaders {
  return {
    summaries: new DataLoader(
      async (keys) => {
        const results = new Map<string, ReceivablesSummary[]>();
        await Promise.all(
          [...groupBy(keys, (k) => k.asOf).entries()].map(async ([asOf, members]) => {
            const byAccount = await service.summaries(members.map((m) => m.accountId), asOf);
            for (const [accountId, s] of byAccount) results.set(`${asOf}:${accountId}`, s);
          }),
        );
        return keys.map((k) => results.get(`${k.asOf}:${k.accountId}`) ?? []);
      },
      { cacheKeyFn: (k) => `${k.asOf}:${k.accountId}` },
    ),
    pages: new DataLoader(
      async (keys) => {
        const results = new Map<string, Connection<Receivable>>();
        await Promise.all(
          [...groupBy(keys, (k) => argsKey(k.args)).entries()].map(async ([group, members]) => {
            const byAccount = await service.pages(members.map((m) => m.accountId), members[0]!.args);
            for (const [accountId, page] of byAccount) results.set(`${group}:${accountId}`, page);
          }),
        );
        return keys.map((k) => results.get(`${argsKey(k.args)}:${k.accountId}`)!);
      },
      { cacheKeyFn: (k) => `${argsKey(k.args)}:${k.accountId}` },
    ),
  };
}
