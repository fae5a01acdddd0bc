/**
 * The Adoption page's operations (typed by hand like operations.ts; the browser test runs them
 * against the real hub).
 */
import { doc } from './api';

export type Deployment = 'CLOUD' | 'ON_PREM' | 'SAAS' | 'EMBEDDED' | 'DEVICE';

export interface AdoptionProduct {
  id: string;
  sku: string;
  name: string;
}

export const ADOPTION_PRODUCTS = doc<{ products: { edges: { node: AdoptionProduct }[] } }>(
  'ConsoleAdoptionProducts',
  `query ConsoleAdoptionProducts { products(first: 200, status: ACTIVE) { edges { node { id sku name } } } }`,
);

export interface FeatureAdoptionRow {
  featureKey: string;
  meters: string[];
  entitledAccounts: number;
  usingAccounts: number;
  sharePercent: number | null;
  shareDelta: number | null;
  activeUsers: number;
  events: number;
  deployments: { deployment: Deployment; events: number; accounts: number; sharePercent: number }[];
  previous: { entitledAccounts: number; usingAccounts: number; sharePercent: number | null };
}

export interface ShelfwareRow {
  id: string;
  account: { id: string; name: string };
  product: { sku: string; name: string };
  featureKey: string | null;
  used: string | null;
  entitled: string | null;
  utilizationPercent: number | null;
  lastUsedAt: string | null;
  daysToRenewal: number | null;
}

export type FeatureUseVerdict = 'USED' | 'RARELY_USED' | 'UNUSED' | 'NOT_MEASURED';

export interface PackagingData {
  sku: string;
  isBundle: boolean;
  holders: number;
  rarelyUsedBelowPercent: number;
  features: { featureKey: string; entitledAccounts: number; usingAccounts: number; sharePercent: number | null; verdict: FeatureUseVerdict; overLimitAccounts: number }[];
  addOnCandidates: {
    featureKey: string;
    reason: 'OVER_LIMIT' | 'NOT_INCLUDED';
    accounts: number;
    holdersPercent: number;
    used: string;
    over: string | null;
    unit: string;
    leakage: { amountMinor: string; currency: string }[];
  }[];
}

export interface AdoptionData {
  adoption: { from: string; to: string; previousFrom: string; features: FeatureAdoptionRow[] };
  packagingInsight: PackagingData;
  unusedEntitlements: { totalCount: number; edges: { node: ShelfwareRow }[] };
}

export const ADOPTION = doc<AdoptionData, { productId: string; from: string; to: string; days: number }>(
  'ConsoleAdoption',
  `query ConsoleAdoption($productId: ID!, $from: DateTimeISO!, $to: DateTimeISO!, $days: Int!) {
  adoption(productId: $productId, from: $from, to: $to) {
    from to previousFrom
    features {
      featureKey meters entitledAccounts usingAccounts sharePercent shareDelta activeUsers events
      deployments { deployment events accounts sharePercent }
      previous { entitledAccounts usingAccounts sharePercent }
    }
  }
  packagingInsight(productId: $productId, from: $from, to: $to) {
    sku isBundle holders rarelyUsedBelowPercent
    features { featureKey entitledAccounts usingAccounts sharePercent verdict overLimitAccounts }
    addOnCandidates { featureKey reason accounts holdersPercent used over unit leakage { amountMinor currency } }
  }
  unusedEntitlements(days: $days, threshold: 0.1, first: 25) {
    totalCount
    edges { node { id account { id name } product { sku name } featureKey used entitled utilizationPercent lastUsedAt daysToRenewal } }
  }
}`,
);

export type PersonaAttribute = 'EVENT_PROPERTY' | 'CONTACT_TITLE' | 'CONTACT_DEPARTMENT';

export interface PersonasData {
  usagePersonas: {
    from: string;
    to: string;
    totalUsers: number;
    attributedUsers: number;
    totalGroups: number;
    groups: { value: string | null; users: number; usersPercent: number; accounts: number; events: number; quantity: string; topFeatures: string[] }[];
  };
}

export const PERSONAS = doc<PersonasData, { groupBy: PersonaAttribute; property: string | null; productId: string; from: string; to: string }>(
  'ConsolePersonas',
  `query ConsolePersonas($groupBy: PersonaAttribute!, $property: String, $productId: ID!, $from: DateTimeISO!, $to: DateTimeISO!) {
  usagePersonas(groupBy: $groupBy, property: $property, productId: $productId, from: $from, to: $to, first: 12) {
    from to totalUsers attributedUsers totalGroups
    groups { value users usersPercent accounts events quantity topFeatures }
  }
}`,
);
