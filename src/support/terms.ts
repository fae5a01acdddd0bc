import type { EntityManager } from 'typeorm';
import { badInput } from '../common/errors';
import type { AfterExpiry, ContractTermsInput, WarrantyBasis } from './support.types';

/** Terms as an order line gives them, every key present (what the order hash covers and the line stores). */
export interface CanonicalTerms {
  maintenanceEnd: string | null;
  supportLevel: string | null;
  supportEnd: string | null;
  warrantyBasis: WarrantyBasis | null;
  warrantyMonths: number | null;
  warrantyCoverage: string | null;
  casesAllowed: number | null;
  afterExpiry: AfterExpiry;
  expiryGraceDays: number;
}

export function canonicalTerms(t: ContractTermsInput): CanonicalTerms {
  return {
    maintenanceEnd: t.maintenanceEnd ?? null,
    supportLevel: t.supportLevel ?? null,
    supportEnd: t.supportEnd ?? null,
    warrantyBasis: t.warrantyBasis ?? null,
    warrantyMonths: t.warrantyMonths ?? null,
    warrantyCoverage: t.warrantyCoverage ?? null,
    casesAllowed: t.casesAllowed ?? null,
    afterExpiry: (t.afterExpiry ?? 'KEEP_ACCESS') as AfterExpiry,
    expiryGraceDays: t.expiryGraceDays ?? 0,
  };
}

/** Checks that need no database; `path` is the line's path (`input.lines.<i>`). */
export function termsShapeErrors(t: CanonicalTerms, path: string, startDate: string): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  if (t.supportEnd && !t.supportLevel) out.push({ path: `${path}.terms.supportEnd`, message: 'a support end needs a supportLevel' });
  if ((t.warrantyBasis === null) !== (t.warrantyMonths === null)) {
    out.push({ path: `${path}.terms.warrantyMonths`, message: 'give warrantyBasis and warrantyMonths together' });
  }
  if (t.warrantyCoverage && t.warrantyBasis === null) out.push({ path: `${path}.terms.warrantyCoverage`, message: 'warranty coverage needs a warranty (warrantyBasis, warrantyMonths)' });
  for (const k of ['maintenanceEnd', 'supportEnd'] as const) {
    const d = t[k];
    if (d && d < startDate) out.push({ path: `${path}.terms.${k}`, message: `${k} ${d} is before the line's start date ${startDate}` });
  }
  return out;
}

/**
 * Writes the terms of an entitlement (in the fulfilment transaction): a new row, or the new
 * values over the old ones. Cases used are kept: a renewal or amendment changes what is
 * allowed, not what was used. An unknown support tier is ORDER_INVALID naming the line.
 */
export async function writeEntitlementTerms(
  manager: EntityManager,
  entitlementId: string,
  accountId: string,
  t: CanonicalTerms,
  path: string,
): Promise<void> {
  let tierId: string | null = null;
  if (t.supportLevel) {
    const [tier] = await manager.query('SELECT id FROM support_tier WHERE key = $1', [t.supportLevel]);
    if (!tier) {
      throw badInput('ORDER_INVALID', `The order is invalid: support level "${t.supportLevel}" does not exist (upsertSupportTier)`, [
        { path: `${path}.terms.supportLevel`, message: `no support tier with key ${t.supportLevel}` },
      ]);
    }
    tierId = tier.id;
  }
  await manager.query(
    `INSERT INTO entitlement_terms (entitlement_id, account_id, maintenance_end, support_tier_id, support_end, warranty_basis, warranty_months,
       warranty_coverage, cases_allowed, after_expiry, expiry_grace_days)
     VALUES ($1, $2, $3::date, $4, $5::date, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (entitlement_id) DO UPDATE SET
       maintenance_end = EXCLUDED.maintenance_end, support_tier_id = EXCLUDED.support_tier_id, support_end = EXCLUDED.support_end,
       warranty_basis = EXCLUDED.warranty_basis, warranty_months = EXCLUDED.warranty_months, warranty_coverage = EXCLUDED.warranty_coverage,
       cases_allowed = EXCLUDED.cases_allowed, after_expiry = EXCLUDED.after_expiry, expiry_grace_days = EXCLUDED.expiry_grace_days,
       updated_at = now()`,
    [
      entitlementId,
      accountId,
      t.maintenanceEnd,
      tierId,
      t.supportEnd,
      t.warrantyBasis,
      t.warrantyMonths,
      t.warrantyCoverage,
      t.casesAllowed,
      t.afterExpiry,
      t.expiryGraceDays,
    ],
  );
}
