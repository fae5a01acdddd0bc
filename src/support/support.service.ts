import type { EntityManager } from 'typeorm';
import type { RequestContext } from '../common/context';
import { AppError, badInput, conflict, notFound } from '../common/errors';
import { isUuid } from '../common/ids';
import { addDays, todayIn } from '../common/dates';
import { accountScope, assertAccountVisible, assertUnscoped } from '../auth/scope';
import type { Db } from '../db/db';
import { ENTITLEMENT_COLUMNS, toEntitlement } from '../entitlements/entitlement.service';
import type { Entitlement } from '../entitlements/entitlement.entity';
import { EntitlementStatus } from '../entitlements/entitlement.enums';
import { effectiveStatus } from '../entitlements/effective-status';
import {
  AfterExpiry,
  ContractTerms,
  SupportBasis,
  SupportCase,
  SupportEntitlementAnswer,
  SupportReason,
  SupportTier,
  WarrantyBasis,
  type MaintenanceTerms,
  type RecordSupportCaseInput,
  type SupportTierInput,
} from './support.types';

/** Advisory-lock class of recordSupportCase idempotency keys. */
const CASE_LOCK_CLASS = 0x5ca5e;

/** What a subject is: exactly one of the three. */
export interface SupportSubject {
  accountId?: string | null;
  deviceSerial?: string | null;
  entitlementId?: string | null;
}

interface TermsRow {
  entitlement_id: string;
  maintenance_end: string | null;
  support_end: string | null;
  warranty_basis: WarrantyBasis | null;
  warranty_months: number | null;
  warranty_coverage: string | null;
  cases_allowed: number | null;
  cases_used: number;
  after_expiry: AfterExpiry;
  expiry_grace_days: number;
  tier_id: string | null;
  tier_key: string | null;
  tier_name: string | null;
  first_response_minutes: number | null;
  resolution_minutes: number | null;
  coverage_hours: string | null;
}

/** The device a serial names: its latest activation (an active one before a deactivated one). */
interface DeviceRow {
  id: string;
  entitlement_id: string;
  account_id: string;
  activated_on: string;
  shipped_on: string | null;
}

/** The first day after adding calendar months (a 31st becomes the last day of a shorter month). */
export function addMonths(date: string, months: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const total = y * 12 + (m - 1) + months;
  const ny = Math.floor(total / 12);
  const nm = total % 12;
  const last = new Date(Date.UTC(ny, nm + 1, 0)).getUTCDate();
  return new Date(Date.UTC(ny, nm, Math.min(d, last))).toISOString().slice(0, 10);
}

const TERMS_SELECT = `
  SELECT t.entitlement_id, t.maintenance_end::text AS maintenance_end, t.support_end::text AS support_end, t.warranty_basis, t.warranty_months,
         t.warranty_coverage, t.cases_allowed, t.cases_used, t.after_expiry, t.expiry_grace_days,
         st.id AS tier_id, st.key AS tier_key, st.name AS tier_name, st.first_response_minutes, st.resolution_minutes, st.coverage_hours
    FROM entitlement_terms t LEFT JOIN support_tier st ON st.id = t.support_tier_id`;

function tierOf(r: TermsRow | undefined): SupportTier | null {
  if (!r?.tier_id) return null;
  return Object.assign(new SupportTier(), {
    id: r.tier_id,
    key: r.tier_key!,
    name: r.tier_name!,
    firstResponseMinutes: r.first_response_minutes!,
    resolutionMinutes: r.resolution_minutes!,
    coverageHours: r.coverage_hours!,
  });
}

function toTier(r: Record<string, unknown>): SupportTier {
  return Object.assign(new SupportTier(), {
    id: r.id,
    key: r.key,
    name: r.name,
    firstResponseMinutes: r.first_response_minutes,
    resolutionMinutes: r.resolution_minutes,
    coverageHours: r.coverage_hours,
  });
}

/** Failure reasons in the order the first one is chosen as `reason`. */
const REASON_ORDER = [
  SupportReason.ENTITLEMENT_NOT_ACTIVE,
  SupportReason.SUPPORT_EXPIRED,
  SupportReason.WARRANTY_EXPIRED,
  SupportReason.NO_SUPPORT_LEVEL,
  SupportReason.NO_WARRANTY,
  SupportReason.CASES_EXHAUSTED,
];

/**
 * Contract terms and support entitlement (ADR 0037): support tiers, the terms of an
 * entitlement, what support an account / device / entitlement is owed today and why not,
 * support cases counted atomically, and the maintenance terms release access reads.
 */
export class SupportService {
  constructor(
    private readonly db: Db,
    private readonly timeZone: string,
  ) {}

  // ------------------------------------------------------------------ tiers

  async upsertTier(ctx: RequestContext, input: SupportTierInput): Promise<SupportTier> {
    assertUnscoped(ctx, 'change support tiers');
    return this.db.tx(ctx, async (tx) => {
      const [before] = await tx.manager.query('SELECT * FROM support_tier WHERE key = $1 FOR UPDATE', [input.key]);
      const [row] = await tx.manager.query(
        `INSERT INTO support_tier (key, name, first_response_minutes, resolution_minutes, coverage_hours) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, first_response_minutes = EXCLUDED.first_response_minutes,
           resolution_minutes = EXCLUDED.resolution_minutes, coverage_hours = EXCLUDED.coverage_hours, updated_at = now()
         RETURNING *`,
        [input.key, input.name.trim(), input.firstResponseMinutes, input.resolutionMinutes, input.coverageHours.trim()],
      );
      tx.audit({ entity: 'SupportTier', entityId: row.id, action: before ? 'UPDATE' : 'CREATE', before: before ?? null, after: row });
      // Accounts whose support level is this tier show its name in the CRM.
      const accounts: { account_id: string }[] = before
        ? await tx.manager.query('SELECT DISTINCT account_id FROM entitlement_terms WHERE support_tier_id = $1', [row.id])
        : [];
      if (accounts.length) tx.publish({ kind: 'support.changed', accountIds: accounts.map((a) => a.account_id), entitlementIds: [] });
      return toTier(row);
    });
  }

  async tiers(): Promise<SupportTier[]> {
    const rows: Record<string, unknown>[] = await this.db.manager.query('SELECT * FROM support_tier ORDER BY key');
    return rows.map(toTier);
  }

  // ------------------------------------------------------------------ terms

  async termsOf(manager: EntityManager, entitlements: readonly Entitlement[]): Promise<Map<string, ContractTerms>> {
    const ids = entitlements.map((e) => e.id);
    const rows: TermsRow[] = ids.length ? await manager.query(`${TERMS_SELECT} WHERE t.entitlement_id = ANY($1::uuid[])`, [ids]) : [];
    const byId = new Map(rows.map((r) => [r.entitlement_id, r]));
    const out = new Map<string, ContractTerms>();
    for (const e of entitlements) {
      const r = byId.get(e.id);
      if (!r) continue;
      out.set(
        e.id,
        Object.assign(new ContractTerms(), {
          maintenanceEnd: r.maintenance_end,
          effectiveMaintenanceEnd: r.maintenance_end ?? e.endDate,
          supportLevel: tierOf(r),
          supportEnd: r.support_end,
          effectiveSupportEnd: r.tier_id ? (r.support_end ?? e.endDate) : null,
          warrantyBasis: r.warranty_basis,
          warrantyMonths: r.warranty_months,
          warrantyCoverage: r.warranty_coverage,
          casesAllowed: r.cases_allowed,
          casesUsed: r.cases_used,
          afterExpiry: r.after_expiry,
          expiryGraceDays: r.expiry_grace_days,
        }),
      );
    }
    return out;
  }

  /**
   * For release access (issue 14, part 2): the maintenance terms of the entitlements of
   * `productId` covering an account, or the device a serial or activation names (the
   * entitlement it is activated on). Without terms, maintenance follows the entitlement's
   * term (its end date and grace days) and access is kept after it (KEEP_ACCESS), as before
   * terms existed. Latest maintenance end first (null = perpetual, first of all).
   */
  async maintenanceTerms(
    manager: EntityManager,
    subject: { productId: string; accountId?: string | null; deviceSerial?: string | null; activationId?: string | null },
    at: Date = new Date(),
  ): Promise<MaintenanceTerms[]> {
    const rows: Record<string, unknown>[] = await manager.query(
      `SELECT ${ENTITLEMENT_COLUMNS.replace(/(^|,\s*)(\w+)/g, '$1e.$2')}, t.maintenance_end::text AS t_maintenance_end, t.after_expiry AS t_after_expiry,
              t.expiry_grace_days AS t_expiry_grace_days, t.entitlement_id IS NOT NULL AS has_terms
         FROM entitlement e LEFT JOIN entitlement_terms t ON t.entitlement_id = e.id
        WHERE e.product_id = $1
          AND ($2::uuid IS NULL OR e.account_id = $2)
          AND ($3::text IS NULL OR e.id IN (SELECT a.entitlement_id FROM activation a WHERE a.serial = $3))
          AND ($4::uuid IS NULL OR e.id IN (SELECT a.entitlement_id FROM activation a WHERE a.id = $4))`,
      [subject.productId, subject.accountId ?? null, subject.deviceSerial ?? null, subject.activationId ?? null],
    );
    const out = rows.map((r): MaintenanceTerms => {
      const e = toEntitlement(r);
      const has = r.has_terms as boolean;
      return {
        entitlementId: e.id,
        accountId: e.accountId,
        productId: e.productId,
        maintenanceEnd: has ? ((r.t_maintenance_end as string | null) ?? e.endDate) : e.endDate,
        afterExpiry: has ? (r.t_after_expiry as AfterExpiry) : AfterExpiry.KEEP_ACCESS,
        graceDays: has ? (r.t_expiry_grace_days as number) : e.graceDays,
        status: effectiveStatus(e, at),
      };
    });
    return out.sort((a, b) => (a.maintenanceEnd === b.maintenanceEnd ? a.entitlementId.localeCompare(b.entitlementId) : a.maintenanceEnd === null ? -1 : b.maintenanceEnd === null ? 1 : b.maintenanceEnd.localeCompare(a.maintenanceEnd)));
  }

  // ------------------------------------------------------------------ support entitlement

  async supportEntitlement(ctx: RequestContext, subject: SupportSubject, now: Date = new Date()): Promise<SupportEntitlementAnswer> {
    const resolved = await this.resolveSubject(ctx, this.db.manager, subject);
    return this.evaluate(this.db.manager, resolved, now);
  }

  /** Which account (and device or entitlement) a subject names; NOT_FOUND when unknown or not visible. */
  private async resolveSubject(
    ctx: RequestContext,
    m: EntityManager,
    s: SupportSubject,
  ): Promise<{ accountId: string; device: DeviceRow | null; entitlementId: string | null; serial: string | null }> {
    const given = [s.accountId, s.deviceSerial, s.entitlementId].filter((x) => x !== null && x !== undefined);
    if (given.length !== 1) {
      throw badInput('SUPPORT_SUBJECT_REQUIRED', 'Give exactly one of accountId, deviceSerial or entitlementId', [
        { path: 'accountId', message: 'give exactly one of accountId, deviceSerial, entitlementId' },
      ]);
    }
    if (s.accountId) {
      if (!isUuid(s.accountId)) throw notFound('Account', s.accountId);
      assertAccountVisible(ctx, s.accountId);
      const [a] = await m.query('SELECT id FROM account WHERE id = $1', [s.accountId]);
      if (!a) throw notFound('Account', s.accountId);
      return { accountId: s.accountId, device: null, entitlementId: null, serial: null };
    }
    if (s.entitlementId) {
      if (!isUuid(s.entitlementId)) throw notFound('Entitlement', s.entitlementId);
      const [e] = await m.query('SELECT account_id FROM entitlement WHERE id = $1', [s.entitlementId]);
      const scope = accountScope(ctx);
      // Another account's entitlement reads as unknown to a scoped key.
      if (!e || (scope && scope !== e.account_id)) throw notFound('Entitlement', s.entitlementId);
      return { accountId: e.account_id, device: null, entitlementId: s.entitlementId, serial: null };
    }
    const serial = s.deviceSerial!.trim();
    if (!serial) throw badInput('SUPPORT_SUBJECT_REQUIRED', 'deviceSerial must not be empty', [{ path: 'deviceSerial', message: 'must not be empty' }]);
    const scope = accountScope(ctx);
    const [device]: DeviceRow[] = await m.query(
      `SELECT id, entitlement_id, account_id, (activated_at AT TIME ZONE $3)::date::text AS activated_on, shipped_on::text AS shipped_on
         FROM activation WHERE serial = $1 AND ($2::uuid IS NULL OR account_id = $2)
        ORDER BY (deactivated_at IS NULL) DESC, activated_at DESC, id LIMIT 1`,
      [serial, scope, this.timeZone],
    );
    if (!device) throw new AppError('NOT_FOUND', 'DEVICE_NOT_FOUND', `No device with serial ${serial}`, { entity: 'Device', id: serial });
    return { accountId: device.account_id, device, entitlementId: device.entitlement_id, serial };
  }

  private async evaluate(
    m: EntityManager,
    r: { accountId: string; device: DeviceRow | null; entitlementId: string | null; serial: string | null },
    now: Date,
  ): Promise<SupportEntitlementAnswer> {
    const rows: Record<string, unknown>[] = await m.query(
      `SELECT ${ENTITLEMENT_COLUMNS.replace(/(^|,\s*)(\w+)/g, '$1e.$2')}, o.order_date::text AS order_date
         FROM entitlement e JOIN sales_order o ON o.id = e.order_id
        WHERE e.account_id = $1 AND ($2::uuid IS NULL OR e.id = $2) ORDER BY e.created_at, e.id`,
      [r.accountId, r.entitlementId],
    );
    const entitlements = rows.map((row) => ({ e: toEntitlement(row), orderDate: row.order_date as string }));
    const terms: TermsRow[] = entitlements.length
      ? await m.query(`${TERMS_SELECT} WHERE t.entitlement_id = ANY($1::uuid[])`, [entitlements.map((x) => x.e.id)])
      : [];
    const termsById = new Map(terms.map((t) => [t.entitlement_id, t]));
    const today = todayIn(this.timeZone, now);
    const answers = entitlements.map(({ e, orderDate }) => this.judge(e, orderDate, termsById.get(e.id), r.device, today, now));
    const base = { accountId: r.accountId, deviceSerial: r.serial };
    if (answers.length === 0) {
      return Object.assign(new SupportEntitlementAnswer(), {
        ...base,
        covered: false,
        basis: null,
        reason: SupportReason.NO_ENTITLEMENT,
        reasons: [SupportReason.NO_ENTITLEMENT],
        explanation: 'The account has no entitlement',
        level: null,
        entitlementId: null,
        supportEnd: null,
        warrantyStart: null,
        warrantyEnd: null,
        warrantyCoverage: null,
        casesAllowed: null,
        casesUsed: null,
        casesRemaining: null,
      });
    }
    // The deciding entitlement: covered first, support before warranty, then the latest support end, then with terms.
    const rank = (a: SupportEntitlementAnswer) => [a.covered ? 0 : 1, a.basis === SupportBasis.SUPPORT ? 0 : 1, a.level ? 0 : 1];
    const best = [...answers].sort((a, b) => {
      const ra = rank(a);
      const rb = rank(b);
      for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return ra[i]! - rb[i]!;
      const ea = a.supportEnd ?? '9999-12-31';
      const eb = b.supportEnd ?? '9999-12-31';
      return eb.localeCompare(ea);
    })[0]!;
    return Object.assign(best, base);
  }

  /** The answer for one entitlement, today. */
  private judge(e: Entitlement, orderDate: string, t: TermsRow | undefined, device: DeviceRow | null, today: string, now: Date): SupportEntitlementAnswer {
    const reasons: SupportReason[] = [];
    const words: string[] = [];
    const status = effectiveStatus(e, now);
    const inactive = status === EntitlementStatus.CANCELLED || status === EntitlementStatus.SUSPENDED || e.startDate > today;
    if (inactive) {
      reasons.push(SupportReason.ENTITLEMENT_NOT_ACTIVE);
      words.push(`entitlement ${e.id} is ${e.startDate > today ? 'not started' : status}`);
    }
    const level = tierOf(t);
    const supportEnd = level ? (t!.support_end ?? e.endDate) : null;
    let supportActive = false;
    if (!level) {
      reasons.push(SupportReason.NO_SUPPORT_LEVEL);
      words.push('no support level');
    } else if (supportEnd !== null && supportEnd < today) {
      reasons.push(SupportReason.SUPPORT_EXPIRED);
      words.push(`support (${level.key}) ended ${supportEnd}`);
    } else {
      supportActive = true;
      words.push(`support ${level.key} ${supportEnd ? `until ${supportEnd}` : 'without end'}`);
    }
    let warrantyStart: string | null = null;
    let warrantyEnd: string | null = null;
    let warrantyActive = false;
    if (!t?.warranty_basis || t.warranty_months === null) {
      reasons.push(SupportReason.NO_WARRANTY);
      words.push('no warranty');
    } else {
      if (t.warranty_basis === WarrantyBasis.ORDER) warrantyStart = orderDate;
      // A shipment date not recorded reads as the activation date (ADR 0037).
      else if (device) warrantyStart = t.warranty_basis === WarrantyBasis.SHIPMENT ? (device.shipped_on ?? device.activated_on) : device.activated_on;
      if (warrantyStart) {
        warrantyEnd = addDays(addMonths(warrantyStart, t.warranty_months), -1);
        if (warrantyEnd < today) {
          reasons.push(SupportReason.WARRANTY_EXPIRED);
          words.push(`warranty ended ${warrantyEnd}`);
        } else {
          warrantyActive = true;
          words.push(`under warranty until ${warrantyEnd}`);
        }
      } else {
        words.push(`the warranty runs per device from its ${t.warranty_basis.toLowerCase()} date: ask by deviceSerial`);
      }
    }
    const exhausted = t?.cases_allowed !== null && t?.cases_allowed !== undefined && t.cases_used >= t.cases_allowed;
    if (exhausted) {
      reasons.push(SupportReason.CASES_EXHAUSTED);
      words.push(`all ${t!.cases_allowed} cases used`);
    }
    const covered = !inactive && (supportActive || warrantyActive) && !exhausted;
    const ordered = REASON_ORDER.filter((x) => reasons.includes(x));
    const reason = covered ? null : !inactive && (supportActive || warrantyActive) && exhausted ? SupportReason.CASES_EXHAUSTED : (ordered[0] ?? null);
    return Object.assign(new SupportEntitlementAnswer(), {
      covered,
      basis: covered ? (supportActive ? SupportBasis.SUPPORT : SupportBasis.WARRANTY) : null,
      reason,
      reasons: ordered,
      explanation: `${covered ? 'Covered' : 'Not covered'}: ${words.join('; ')}`,
      level,
      entitlementId: e.id,
      accountId: e.accountId,
      deviceSerial: null,
      supportEnd,
      warrantyStart,
      warrantyEnd,
      warrantyCoverage: t?.warranty_coverage ?? null,
      casesAllowed: t?.cases_allowed ?? null,
      casesUsed: t ? t.cases_used : null,
      casesRemaining: t && t.cases_allowed !== null ? Math.max(0, t.cases_allowed - t.cases_used) : null,
    });
  }

  // ------------------------------------------------------------------ cases

  /**
   * Records a support case against the entitlement that covers the subject, exactly once per
   * (account, idempotency key). The count is taken by one conditional UPDATE (`cases_used <
   * cases_allowed`), so concurrent calls can never pass the limit; a subject not covered is
   * refused with its reason as the code and nothing is written.
   */
  async recordCase(ctx: RequestContext, input: RecordSupportCaseInput, now: Date = new Date()): Promise<SupportCase> {
    const key = input.idempotencyKey.trim();
    if (!key) throw badInput('SUPPORT_CASE_KEY_INVALID', 'idempotencyKey must not be empty', [{ path: 'input.idempotencyKey', message: 'must not be empty' }]);
    const subject = input.subject?.trim() || null;
    return this.db.tx(ctx, async (tx) => {
      const m = tx.manager;
      const r = await this.resolveSubject(ctx, m, input);
      await m.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [CASE_LOCK_CLASS, `${r.accountId}:${key}`]);
      const [prior] = await m.query(
        `SELECT c.id, c.account_id, c.entitlement_id, c.activation_id, c.idempotency_key, c.subject, c.cases_used, c.created_at, t.cases_allowed
           FROM support_case c LEFT JOIN entitlement_terms t ON t.entitlement_id = c.entitlement_id
          WHERE c.account_id = $1 AND c.idempotency_key = $2`,
        [r.accountId, key],
      );
      if (prior) {
        const same = (!r.entitlementId || r.entitlementId === prior.entitlement_id) && (r.device?.id ?? null) === prior.activation_id && subject === prior.subject;
        if (!same) throw conflict('IDEMPOTENCY_KEY_REUSED', `Idempotency key "${key}" was already used for another support case; use a new key`, { idempotencyKey: key });
        return toCase(prior, true);
      }
      const answer = await this.evaluate(m, r, now);
      if (!answer.covered) {
        const code = answer.reason === SupportReason.CASES_EXHAUSTED ? 'LIMIT_EXCEEDED' : 'FORBIDDEN';
        throw new AppError(code, answer.reason ?? 'SUPPORT_NOT_COVERED', `No support case can be recorded: ${answer.explanation}`, {
          reasons: answer.reasons,
          entitlementId: answer.entitlementId,
        });
      }
      const [updated] = (await m.query(
        `UPDATE entitlement_terms SET cases_used = cases_used + 1, updated_at = now()
          WHERE entitlement_id = $1 AND (cases_allowed IS NULL OR cases_used < cases_allowed)
          RETURNING cases_used, cases_allowed`,
        [answer.entitlementId],
      )) as [{ cases_used: number; cases_allowed: number | null }[], number];
      const row = updated[0];
      if (!row) {
        throw new AppError('LIMIT_EXCEEDED', SupportReason.CASES_EXHAUSTED, `All ${answer.casesAllowed} support cases of entitlement ${answer.entitlementId} are used`, {
          reasons: [SupportReason.CASES_EXHAUSTED],
          entitlementId: answer.entitlementId,
        });
      }
      const [created] = await m.query(
        `INSERT INTO support_case (account_id, entitlement_id, activation_id, idempotency_key, subject, cases_used, key_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id, account_id, entitlement_id, activation_id, idempotency_key, subject, cases_used, created_at`,
        [r.accountId, answer.entitlementId, r.device?.id ?? null, key, subject, row.cases_used, ctx.principal?.keyId ?? null],
      );
      tx.audit({ entity: 'SupportCase', entityId: created.id, action: 'CREATE', after: { ...created, casesAllowed: row.cases_allowed } });
      // The CRM's support entitlement shows the cases left.
      if (row.cases_allowed !== null) tx.publish({ kind: 'support.changed', accountIds: [r.accountId], entitlementIds: [answer.entitlementId!] });
      return toCase({ ...created, cases_allowed: row.cases_allowed }, false);
    });
  }
}

function toCase(r: Record<string, unknown>, replayed: boolean): SupportCase {
  const allowed = (r.cases_allowed as number | null) ?? null;
  const used = r.cases_used as number;
  return Object.assign(new SupportCase(), {
    id: r.id,
    accountId: r.account_id,
    entitlementId: r.entitlement_id,
    idempotencyKey: r.idempotency_key,
    subject: r.subject ?? null,
    casesUsed: used,
    casesAllowed: allowed,
    casesRemaining: allowed === null ? null : Math.max(0, allowed - used),
    replayed,
    createdAt: r.created_at,
  });
}
