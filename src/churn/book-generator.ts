import type { QueryRunner } from 'typeorm';
import type { RequestContext } from '../common/context';
import { conflict } from '../common/errors';
import type { UpsertFeatureInput, UpsertMeterInput, UpsertProductInput } from '../catalog/catalog.types';
import type { OrderInput } from '../orders/order.types';
import type { Services } from '../server/services';
import { DEMO_FEATURES, DEMO_METERS, DEMO_PRODUCTS } from '../cli/demo-data';

/**
 * The test-data generator behind `ehub demo --book` (docs/churn.md, ADR 0029): a book of
 * customers over several years, written through the hub's own services where correctness
 * matters (accounts, orders: entitlements, renewals and revenue are the hub's) and by
 * set-based SQL where volume matters (daily usage rollups, seats, device activations,
 * leases, underuse findings).
 *
 * Every term of every line either renews (a RENEWAL order line that extends the entitlement)
 * or not. Each term has a utilisation curve, linear from its start to its end; the chance of
 * renewing rises with the utilisation trend and the utilisation level before the end, with
 * the tenure, and differs by model, plus noise. Everything comes from one seeded generator:
 * the same seed and `asOf` give the same book (ids differ; contents do not).
 */
export interface BookOptions {
  accounts: number;
  years: number;
  seed: number;
  /** The day the book ends (YYYY-MM-DD): no data after it. Default today (UTC). */
  asOf?: string;
  /** Orders the generator submits at once (default 4). */
  concurrency?: number;
  /** Called now and then with what is done. */
  progress?: (done: number, total: number, phase: string) => void;
}

export interface BookSummary {
  source: string;
  accounts: number;
  lines: number;
  orders: number;
  renewals: number;
  endedTerms: number;
  notRenewed: number;
  usageRollups: number;
  seats: number;
  activations: number;
  leases: number;
  findings: number;
  /** ERP documents: monthly invoices and the payments that settled them. */
  receivables: number;
  ms: number;
  /** Milliseconds per phase: accounts, orders, volume (the SQL part). */
  phases: Record<string, number>;
}

/** The products the book sells, with their usage meter and a quantity range. */
const BOOK_PRODUCTS: { sku: string; model: string; meter: string | null; deployment: string; qty: [number, number]; weight: number; unitPrice: [number, number] }[] = [
  { sku: 'ANL-CLOUD', model: 'NAMED_USER', meter: 'active.users', deployment: 'SAAS', qty: [5, 60], weight: 3, unitPrice: [45_000, 60_000] },
  { sku: 'DSN-PRO', model: 'CONCURRENT', meter: 'render.minutes', deployment: 'ON_PREM', qty: [2, 12], weight: 2, unitPrice: [300_000, 360_000] },
  { sku: 'DSN-STD', model: 'DEVICE_LOCKED', meter: 'render.minutes', deployment: 'ON_PREM', qty: [2, 20], weight: 2, unitPrice: [100_000, 120_000] },
  { sku: 'GW-100', model: 'DEVICE_LOCKED', meter: 'api.calls', deployment: 'DEVICE', qty: [10, 120], weight: 1, unitPrice: [38_000, 45_000] },
  { sku: 'API-10M', model: 'METERED', meter: 'api.calls', deployment: 'CLOUD', qty: [1, 5], weight: 1, unitPrice: [220_000, 250_000] },
  { sku: 'RENDER-PAYG', model: 'USAGE', meter: 'render.minutes', deployment: 'CLOUD', qty: [1_000, 20_000], weight: 1, unitPrice: [10, 12] },
  { sku: 'SUP-PREM', model: 'SUBSCRIPTION', meter: null, deployment: 'SAAS', qty: [1, 1], weight: 1, unitPrice: [70_000, 80_000] },
];

/** The renewal odds' known truth (documented in docs/churn.md): log-odds of renewing. */
export const BOOK_TRUTH = {
  intercept: 0.9,
  /** × the utilisation change over the term (end − start, −1…1). */
  trend: 5,
  /** × (utilisation 90 days before the end − 0.5). */
  level: 3,
  /** × min(tenure in years, 3). */
  tenure: 0.6,
  byModel: { METERED: -1.2, USAGE: -0.8, CONCURRENT: 0.4, SUBSCRIPTION: 0.8 } as Record<string, number>,
  /** + for an account that pays its invoices late (a fifth of accounts, drawn apart). */
  slowPayer: -1.2,
  /** The share of accounts that pay late. */
  slowPayerShare: 0.2,
  /** Standard deviation of the per-term noise on the log-odds. */
  noise: 0.6,
};

/** mulberry32: a small seeded generator (deterministic across platforms). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

const DAY = 86_400_000;
const toDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const fromDay = (d: string) => Date.parse(`${d}T00:00:00Z`);
const addMonths = (d: string, n: number) => {
  const t = new Date(fromDay(d));
  return toDay(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + n, t.getUTCDate()));
};
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** One term of one line, as planned. */
interface PlannedTerm {
  account: number;
  line: number;
  term: number;
  start: string;
  end: string;
  u0: number;
  u1: number;
  renewed: boolean | null;
}

interface PlannedLine {
  account: number;
  line: number;
  /** The account pays its invoices 15–74 days late (others pay up to 10 days early, or 3 late). */
  slowPayer: boolean;
  product: (typeof BOOK_PRODUCTS)[number];
  quantity: number;
  unitPrice: number;
  terms: PlannedTerm[];
}

/** The plan: accounts, lines and terms with their curves and outcomes, from the seed alone. */
export function planBook(opts: BookOptions): PlannedLine[] {
  const rand = seededRandom(opts.seed);
  // Payment behaviour from a generator of its own, so the rest of the plan is what it was before it existed.
  const payRand = seededRandom(opts.seed ^ 0x5eed_f00d);
  const asOf = opts.asOf ?? toDay(Date.now());
  const asOfMs = fromDay(asOf);
  const totalWeight = BOOK_PRODUCTS.reduce((a, p) => a + p.weight, 0);
  const pickProduct = () => {
    let r = rand() * totalWeight;
    for (const p of BOOK_PRODUCTS) if ((r -= p.weight) < 0) return p;
    return BOOK_PRODUCTS[0]!;
  };
  const lines: PlannedLine[] = [];
  for (let a = 1; a <= opts.accounts; a++) {
    // The account's disposition: its usual utilisation and drift.
    const level = clamp(0.55 + 0.2 * normal(rand), 0.05, 0.98);
    const drift = 0.12 * normal(rand);
    const slowPayer = payRand() < BOOK_TRUTH.slowPayerShare;
    const start = toDay(asOfMs - Math.floor(rand() * (opts.years * 365 - 30) + 30) * DAY);
    const nLines = rand() < 0.3 ? 2 : 1;
    // One cycle per account: its lines start, end and renew together (one renewal order each time).
    const months = rand() < 0.25 ? 6 : 12;
    const used = new Set<string>();
    for (let l = 1; l <= nLines; l++) {
      let product = pickProduct();
      while (used.has(product.sku)) product = pickProduct();
      used.add(product.sku);
      const quantity = Math.round(product.qty[0] + rand() * (product.qty[1] - product.qty[0]));
      const unitPrice = Math.round(product.unitPrice[0] + rand() * (product.unitPrice[1] - product.unitPrice[0]));
      const terms: PlannedTerm[] = [];
      let termStart = start;
      let u0 = clamp(level + 0.1 * normal(rand), 0.02, 1);
      for (let k = 1; fromDay(termStart) <= asOfMs; k++) {
        const end = toDay(fromDay(addMonths(termStart, months)) - DAY);
        const u1 = clamp(u0 + drift + 0.22 * normal(rand), 0.02, 1);
        const len = (fromDay(end) - fromDay(termStart)) / DAY;
        const atSnapshot = u0 + (u1 - u0) * Math.max(0, (len - 90) / Math.max(len, 1));
        const tenure = Math.min(3, (fromDay(end) - fromDay(start)) / DAY / 365);
        const z =
          BOOK_TRUTH.intercept +
          BOOK_TRUTH.trend * (u1 - u0) +
          BOOK_TRUTH.level * (atSnapshot - 0.5) +
          BOOK_TRUTH.tenure * tenure +
          (BOOK_TRUTH.byModel[product.model] ?? 0) +
          (slowPayer ? BOOK_TRUTH.slowPayer : 0) +
          BOOK_TRUTH.noise * normal(rand);
        const draw = rand();
        const ended = fromDay(end) < asOfMs;
        const renewed = ended ? draw < sigmoid(z) : null;
        terms.push({ account: a, line: l, term: k, start: termStart, end, u0, u1, renewed });
        if (!renewed) break;
        termStart = toDay(fromDay(end) + DAY);
        u0 = u1;
      }
      lines.push({ account: a, line: l, slowPayer, product, quantity, unitPrice, terms });
    }
  }
  return lines;
}

/** Runs `fn` over `items`, `n` at a time, in order of start. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function ensureCatalog(s: Services, ctx: RequestContext): Promise<void> {
  for (const f of DEMO_FEATURES) await s.catalog.upsertFeature(ctx, f as UpsertFeatureInput);
  for (const m of DEMO_METERS) await s.catalog.upsertMeter(ctx, m as UpsertMeterInput);
  const ordered = [...DEMO_PRODUCTS].sort((a, b) => Number(Boolean(a.components)) - Number(Boolean(b.components)));
  for (const p of ordered) await s.catalog.upsertProduct(ctx, p as UpsertProductInput);
}

/**
 * Generates the book into the hub. Refuses (CONFLICT BOOK_EXISTS) if a book with this seed
 * was generated before: run it on a fresh database, or with another seed.
 */
export async function generateBook(s: Services, ctx: RequestContext, opts: BookOptions): Promise<BookSummary> {
  const started = Date.now();
  const asOf = opts.asOf ?? toDay(Date.now());
  const source = `book-${opts.seed}`;
  const db = s.db.manager;
  const [exists] = await db.query(`SELECT 1 FROM sales_order WHERE source = $1 LIMIT 1`, [source]);
  if (exists) throw conflict('BOOK_EXISTS', `A book with seed ${opts.seed} was already generated here (orders from source "${source}"); use another seed or a fresh database`);
  const plan = planBook({ ...opts, asOf });
  await ensureCatalog(s, ctx);

  const phases: Record<string, number> = {};
  let mark = Date.now();
  const phase = (name: string) => {
    phases[name] = Date.now() - mark;
    mark = Date.now();
  };
  // Accounts in one statement (with a reference each, so a book's account number is findable).
  const accountIds = new Map<number, string>();
  const nos = Array.from({ length: opts.accounts }, (_, i) => i + 1);
  const created: { id: string; no: number }[] = await db.query(
    `WITH a AS (
       INSERT INTO account (name, domain, currency, country, segment)
       SELECT 'Book ' || $1 || ' Customer ' || lpad(n::text, 5, '0'), 'c' || n || '.book' || $1 || '.example', 'USD', 'US',
              CASE WHEN n % 10 = 0 THEN 'ENTERPRISE' WHEN n % 3 = 0 THEN 'MID_MARKET' ELSE 'SMB' END
         FROM unnest($2::int[]) n
       RETURNING id, (regexp_match(domain, '^c([0-9]+)\\.'))[1]::int AS no),
     r AS (INSERT INTO external_ref (system, object, external_id, entity_type, entity_id) SELECT $3, 'Account', 'A' || a.no, 'ACCOUNT', a.id FROM a)
     SELECT id, no FROM a`,
    [String(opts.seed), nos, source],
  );
  for (const a of created) accountIds.set(a.no, a.id);
  phase('accounts');
  // Orders: one NEW order per account (its lines), then each renewal in order, per line.
  const byAccount = new Map<number, PlannedLine[]>();
  for (const l of plan) (byAccount.get(l.account) ?? byAccount.set(l.account, []).get(l.account)!).push(l);
  let orders = 0;
  let renewals = 0;
  let done = 0;
  await pool([...byAccount.entries()], opts.concurrency ?? 4, async ([a, lines]) => {
    const accountId = accountIds.get(a)!;
    const first = lines[0]!.terms[0]!;
    const newOrder: OrderInput = {
      source,
      externalId: `A${a}-NEW`,
      revision: 1,
      accountId,
      orderDate: first.start,
      currency: 'USD',
      lines: lines.map((l) => ({
        lineNo: l.line,
        externalLineId: `A${a}-L${l.line}-T1`,
        sku: l.product.sku,
        quantity: l.quantity,
        unitPrice: String(l.unitPrice),
        startDate: l.terms[0]!.start,
        endDate: l.terms[0]!.end,
      })),
    } as OrderInput;
    await s.orders.submit(ctx, newOrder);
    orders++;
    // Renewals in time order: one order per renewal date with the lines renewing then.
    const byStart = new Map<string, { l: PlannedLine; t: PlannedTerm }[]>();
    for (const l of lines) for (const t of l.terms.slice(1)) (byStart.get(t.start) ?? byStart.set(t.start, []).get(t.start)!).push({ l, t });
    for (const start of [...byStart.keys()].sort()) {
      const due = byStart.get(start)!;
      await s.orders.submit(ctx, {
        source,
        externalId: `A${a}-R${start}`,
        revision: 1,
        accountId,
        orderDate: toDay(fromDay(start) - 30 * DAY),
        currency: 'USD',
        lines: due.map(({ l, t }) => ({
          lineNo: l.line,
          externalLineId: `A${a}-L${l.line}-T${t.term}`,
          sku: l.product.sku,
          quantity: l.quantity,
          unitPrice: String(l.unitPrice),
          startDate: t.start,
          endDate: t.end,
          action: 'RENEWAL',
          renewsLineRef: `A${a}-L${l.line}-T${t.term - 1}`,
        })),
      } as OrderInput);
      orders++;
      renewals += due.length;
    }
    if (++done % 100 === 0) opts.progress?.(done, byAccount.size, 'orders');
  });

  phase('orders');
  // The curves, keyed to the entitlements the orders made.
  const terms = plan.flatMap((l) => l.terms.map((t) => ({ l, t })));
  const qr = s.db.ds.createQueryRunner();
  let counts: Record<string, number>;
  try {
    await qr.connect();
    await qr.query(`
      CREATE TEMP TABLE book_term (
        account_no int, line_no int, term_no int, account_id uuid, sku text, model text, meter_key text, deployment text,
        quantity numeric, unit_price numeric, slow_payer boolean, start_date date, end_date date, u0 float8, u1 float8, renewed boolean,
        entitlement_id uuid, meter_id uuid)`);
    await qr.query(
      `INSERT INTO book_term (account_no, line_no, term_no, account_id, sku, model, meter_key, deployment, quantity, start_date, end_date, u0, u1, renewed,
                             unit_price, slow_payer)
       SELECT * FROM unnest($1::int[], $2::int[], $3::int[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::numeric[], $10::date[], $11::date[], $12::float8[], $13::float8[], $14::boolean[],
                            $15::numeric[], $16::boolean[])`,
      [
        terms.map((x) => x.t.account),
        terms.map((x) => x.t.line),
        terms.map((x) => x.t.term),
        terms.map((x) => accountIds.get(x.t.account)!),
        terms.map((x) => x.l.product.sku),
        terms.map((x) => x.l.product.model),
        terms.map((x) => x.l.product.meter),
        terms.map((x) => x.l.product.deployment),
        terms.map((x) => x.l.quantity),
        terms.map((x) => x.t.start),
        terms.map((x) => x.t.end),
        terms.map((x) => x.t.u0),
        terms.map((x) => x.t.u1),
        terms.map((x) => x.t.renewed),
        terms.map((x) => x.l.unitPrice),
        terms.map((x) => x.l.slowPayer),
      ],
    );
    await qr.query(
      `UPDATE book_term b SET entitlement_id = e.id, meter_id = (SELECT m.id FROM meter m WHERE m.key = b.meter_key)
         FROM order_line l JOIN sales_order o ON o.id = l.order_id JOIN entitlement e ON e.order_line_id = l.id
        WHERE o.source = $1 AND o.external_id = 'A' || b.account_no || '-NEW' AND l.line_no = b.line_no`,
      [source],
    );
    // Only what happened up to the day before asOf; the fraction of the term elapsed on day d.
    const curve = `(b.u0 + (b.u1 - b.u0) * ((d::date - b.start_date)::float8 / greatest(1, b.end_date - b.start_date)))`;
    const noise = (salt: string) => `((abs(hashtext(b.account_no || ':' || b.line_no || ':' || d::date || ':${salt}:' || $2::text)) % 1000) / 1000.0)`;
    const scale = `CASE b.model WHEN 'NAMED_USER' THEN b.quantity * 0.75 WHEN 'METERED' THEN b.quantity * 10000000 / 30.0
                                 WHEN 'USAGE' THEN b.quantity / 30.0 WHEN 'DEVICE_LOCKED' THEN b.quantity * 40 ELSE b.quantity * 120 END`;
    const rollups = await qr.query(
      `WITH ins AS (INSERT INTO usage_rollup (account_id, meter_id, granularity, bucket, entitlement_id, deployment, sum, count, max)
       SELECT b.account_id, b.meter_id, 'D', d AT TIME ZONE 'UTC', b.entitlement_id, b.deployment, v.v, v.v, v.v
         FROM book_term b
        CROSS JOIN LATERAL generate_series(b.start_date::timestamp, least(b.end_date, $1::date - 1)::timestamp, interval '1 day') d
        CROSS JOIN LATERAL (SELECT round(${scale} * ${curve} * (0.7 + 0.6 * ${noise('u')}))::numeric AS v) v
        WHERE b.meter_id IS NOT NULL AND b.start_date < $1::date AND v.v > 0
       RETURNING 1) SELECT count(*) AS n FROM ins`,
      [asOf, String(opts.seed)],
    );
    // Seat / device i of q is in use while the curve is at or above (i − ½)/q: an interval of the term.
    const interval = `
        CROSS JOIN LATERAL generate_series(1, b.quantity::int) i
        CROSS JOIN LATERAL (SELECT (i - 0.5) / b.quantity AS th, greatest(1, b.end_date - b.start_date) AS len) k
        CROSS JOIN LATERAL (SELECT CASE WHEN b.u1 = b.u0 THEN CASE WHEN b.u0 >= k.th THEN 0 ELSE 2 END
                                        WHEN b.u1 > b.u0 THEN greatest(0, (k.th - b.u0) / (b.u1 - b.u0)) ELSE 0 END AS x0,
                                   CASE WHEN b.u1 = b.u0 THEN CASE WHEN b.u0 >= k.th THEN 1 ELSE -1 END
                                        WHEN b.u1 < b.u0 THEN least(1, (b.u0 - k.th) / (b.u0 - b.u1)) ELSE 1 END AS x1) x
        CROSS JOIN LATERAL (SELECT b.start_date + (x.x0 * k.len)::int AS from_day, b.start_date + (x.x1 * k.len)::int + 1 AS to_day) w
        WHERE x.x0 <= x.x1 AND w.from_day < $1::date`;
    const seats = await qr.query(
      `WITH ins AS (INSERT INTO seat (entitlement_id, account_id, email, assigned_at, released_at, created_at)
       SELECT b.entitlement_id, b.account_id, 'user' || i || '@c' || b.account_no || '.book.example',
              w.from_day::timestamp AT TIME ZONE 'UTC', CASE WHEN w.to_day < $1::date THEN w.to_day::timestamp AT TIME ZONE 'UTC' END,
              w.from_day::timestamp AT TIME ZONE 'UTC'
         FROM book_term b ${interval} AND b.model = 'NAMED_USER'
       RETURNING 1) SELECT count(*) AS n FROM ins`,
      [asOf],
    );
    const activations = await qr.query(
      `WITH ins AS (INSERT INTO activation (entitlement_id, account_id, fingerprint, name, deployment, activated_at, last_seen_at, deactivated_at, created_at)
       SELECT b.entitlement_id, b.account_id, 'dev-' || b.line_no || '-' || i, 'device ' || i, b.deployment,
              w.from_day::timestamp AT TIME ZONE 'UTC', least(w.to_day, $1::date)::timestamp AT TIME ZONE 'UTC',
              CASE WHEN w.to_day < $1::date THEN w.to_day::timestamp AT TIME ZONE 'UTC' END, w.from_day::timestamp AT TIME ZONE 'UTC'
         FROM book_term b ${interval} AND b.model = 'DEVICE_LOCKED'
       RETURNING 1) SELECT count(*) AS n FROM ins`,
      [asOf],
    );
    // Floating licences: every 14 days, the holders the curve says are in use that day check out for 8 hours.
    const leases = await qr.query(
      `WITH ins AS (INSERT INTO lease (entitlement_id, account_id, holder, ttl_seconds, checked_out_at, expires_at, checked_in_at, created_at)
       SELECT b.entitlement_id, b.account_id, 'holder-' || i, 28800, (d + interval '9 hours') AT TIME ZONE 'UTC', (d + interval '17 hours') AT TIME ZONE 'UTC',
              (d + interval '17 hours') AT TIME ZONE 'UTC', (d + interval '9 hours') AT TIME ZONE 'UTC'
         FROM book_term b
        CROSS JOIN LATERAL generate_series(b.start_date::timestamp, least(b.end_date, $1::date - 1)::timestamp, interval '14 days') d
        CROSS JOIN LATERAL generate_series(1, greatest(0, round(b.quantity * ${curve}))::int) i
        WHERE b.model = 'CONCURRENT' AND b.start_date < $1::date
       RETURNING 1) SELECT count(*) AS n FROM ins`,
      [asOf],
    );
    // An underuse finding where a term sat below a quarter of what was sold at its middle.
    const findings = await qr.query(
      `WITH ins AS (INSERT INTO compliance_finding (kind, account_id, entitlement_id, feature_key, period_start, period_end, unit, entitled, used, utilization, first_seen_at, last_seen_at, created_at)
       SELECT 'UNDERUSE', b.account_id, b.entitlement_id, NULL, mid::timestamp AT TIME ZONE 'UTC', NULL, 'units', b.quantity,
              round(b.quantity * ((b.u0 + b.u1) / 2)::numeric, 2), round(((b.u0 + b.u1) / 2)::numeric, 4),
              mid::timestamp AT TIME ZONE 'UTC', mid::timestamp AT TIME ZONE 'UTC', mid::timestamp AT TIME ZONE 'UTC'
         FROM book_term b CROSS JOIN LATERAL (SELECT b.start_date + (b.end_date - b.start_date) / 2 AS mid) m
        WHERE (b.u0 + b.u1) / 2 < 0.25 AND m.mid < $1::date AND b.model IN ('NAMED_USER','DEVICE_LOCKED','CONCURRENT')
       ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) AS n FROM ins`,
      [asOf],
    );
    const receivables = await writeReceivables(qr, source, asOf, String(opts.seed));
    const n = (r: { n: string }[]) => Number(r[0]?.n ?? 0);
    counts = { rollups: n(rollups), seats: n(seats), activations: n(activations), leases: n(leases), findings: n(findings), receivables };
    await qr.query(`DROP TABLE book_term`);
  } finally {
    await qr.release();
  }
  phase('volume');
  const ended = terms.filter((x) => x.t.renewed !== null);
  return {
    source,
    accounts: opts.accounts,
    lines: plan.length,
    orders,
    renewals,
    endedTerms: ended.length,
    notRenewed: ended.filter((x) => !x.t.renewed).length,
    usageRollups: counts.rollups!,
    seats: counts.seats!,
    activations: counts.activations!,
    leases: counts.leases!,
    findings: counts.findings!,
    receivables: counts.receivables!,
    ms: Date.now() - started,
    phases,
  };
}

/**
 * The book's ERP side (on a disabled `csv` connection of its own, so nothing ever pulls or
 * pushes it): one invoice per account and month of service, due in 30 days, for the month's
 * share of every line's price; a slow payer settles 15–74 days after the due date, others
 * between 10 days early and 3 days late. Each invoice is written open as of its date and then
 * paid as of its payment date (a payment document beside it), so `receivable_history` holds
 * what an ERP pull would have recorded over time. Returns the number of documents.
 */
async function writeReceivables(qr: QueryRunner, source: string, asOf: string, seed: string): Promise<number> {
  const [conn]: { id: string }[] = await qr.query(
    `INSERT INTO sync_connection (name, type, enabled, pull_enabled, push_enabled, ref_system, order_source)
     VALUES ($1, 'csv', false, false, false, $2, $3) RETURNING id`,
    [`${source}-erp`, `${source}-erp`, source],
  );
  const days = `(CASE WHEN i.slow THEN 45 + abs(hashtext(i.account_no || ':' || i.doc_date || ':pay:' || $2::text)) % 60
                      ELSE 20 + abs(hashtext(i.account_no || ':' || i.doc_date || ':pay:' || $2::text)) % 14 END)`;
  await qr.query(`CREATE TEMP TABLE book_invoice (account_id uuid, account_no int, doc_date date, slow boolean, amount bigint, paid_on date)`);
  await qr.query(
    `INSERT INTO book_invoice (account_id, account_no, doc_date, slow, amount, paid_on)
     SELECT i.*, (i.doc_date + ${days})::date AS paid_on
       FROM (SELECT b.account_id, b.account_no, m::date AS doc_date, bool_or(b.slow_payer) AS slow,
                    sum(round(b.quantity * b.unit_price * 365 / 12.0 / greatest(1, b.end_date - b.start_date + 1)))::bigint AS amount
               FROM book_term b
              CROSS JOIN LATERAL generate_series(b.start_date::timestamp, least(b.end_date, $1::date - 1)::timestamp, interval '1 month') m
              WHERE b.start_date < $1::date AND b.unit_price > 0
              GROUP BY 1, 2, 3) i`,
    [asOf, seed],
  );
  const [inv]: { n: string }[] = await qr.query(
    `WITH ins AS (
       INSERT INTO receivable (connection_id, external_id, account_id, kind, number, doc_date, due_date, currency, amount_minor, open_minor, status, modified_at)
       SELECT $1, 'INV-' || account_no || '-' || to_char(doc_date, 'YYYYMMDD'), account_id, 'INVOICE', 'INV-' || account_no || '-' || to_char(doc_date, 'YYYYMMDD'),
              doc_date, doc_date + 30, 'USD', amount, amount, 'OPEN', doc_date::timestamp AT TIME ZONE 'UTC'
         FROM book_invoice
       RETURNING 1) SELECT count(*) AS n FROM ins`,
    [conn!.id],
  );
  // Paid by asOf: the invoice closes as of its payment day, and the payment is a document of its own.
  await qr.query(
    `UPDATE receivable r SET open_minor = 0, status = 'PAID', modified_at = i.paid_on::timestamp AT TIME ZONE 'UTC'
       FROM book_invoice i
      WHERE r.connection_id = $1 AND r.external_id = 'INV-' || i.account_no || '-' || to_char(i.doc_date, 'YYYYMMDD') AND i.paid_on < $2::date`,
    [conn!.id, asOf],
  );
  const [pay]: { n: string }[] = await qr.query(
    `WITH ins AS (
       INSERT INTO receivable (connection_id, external_id, account_id, kind, number, doc_date, due_date, currency, amount_minor, open_minor, status, modified_at)
       SELECT $1, 'PAY-' || account_no || '-' || to_char(doc_date, 'YYYYMMDD'), account_id, 'PAYMENT', NULL,
              paid_on, NULL, 'USD', amount, 0, 'APPLIED', paid_on::timestamp AT TIME ZONE 'UTC'
         FROM book_invoice WHERE paid_on < $2::date
       RETURNING 1) SELECT count(*) AS n FROM ins`,
    [conn!.id, asOf],
  );
  await qr.query(`DROP TABLE book_invoice`);
  return Number(inv!.n) + Number(pay!.n);
}
