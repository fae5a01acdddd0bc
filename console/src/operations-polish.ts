/** Operations of the polish slice (issue 16): the server-filtered customer list. */
import { doc } from './api';
import type { Money } from './format';
import type { CustomerRow, HealthBand, ChurnBand } from './operations';

export interface CustomerListFilter {
  search?: string;
  healthBand?: HealthBand;
  unscored?: boolean;
  churnBand?: ChurnBand;
  arrCurrency?: string;
  arrMin?: string;
  arrMax?: string;
  utilizationMin?: number;
  utilizationMax?: number;
}

export type CustomerListRow = CustomerRow & { arr?: Money[]; utilizationPercent?: number | null };

export const CUSTOMER_LIST = doc<
  { customerList: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: CustomerListRow }[] } },
  { filter: CustomerListFilter; first: number; after: string | null; scores: boolean }
>(
  'ConsoleCustomerList',
  `query ConsoleCustomerList($filter: CustomerListFilterInput, $first: Int! = 50, $after: String, $scores: Boolean! = false) {
  customerList(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id name domain country segment status currency
      health @include(if: $scores) { effectiveScore effectiveBand }
      churnRisk @include(if: $scores) { band probability }
      arr @include(if: $scores) { amountMinor currency }
      utilizationPercent @include(if: $scores)
    } }
  }
}`,
);
