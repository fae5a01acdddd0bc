import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { parseHealthConfig } from './health/health.rules';

/** "50, 80,100" → [50, 80, 100] (NaN for anything else, which the schema then refuses). */
const numberList = (v: string): number[] => [...new Set(v.split(',').map((x) => Number(x.trim())))].sort((a, b) => a - b);

const TIME_ZONE_MESSAGE = 'must be an IANA time zone, e.g. UTC or Europe/Berlin';

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * Every setting the hub reads from the environment, validated once at start-up.
 * The README's configuration table mirrors this schema; keep them in step.
 */
const schema = z.object({
  /** Unset counts as production: stack traces and internal messages only with an explicit development flag. */
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  /** `1`/`true`: development diagnostics (stack traces in error responses) whatever NODE_ENV says. */
  EHUB_DEBUG: z
    .enum(['0', '1', 'true', 'false', ''])
    .default('')
    .transform((v) => v === '1' || v === 'true'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z.string().url().optional(),
  EHUB_DATA_DIR: z.string().default('./.ehub'),
  /** The built web console served at /console (docs/console.md); unset: dist/console beside the compiled code. */
  EHUB_CONSOLE_DIR: z.string().min(1).optional(),
  /** As root, where embedded PostgreSQL's binaries and cluster go when the postgres user cannot reach them in place. */
  EHUB_EMBEDDED_PG_DIR: z.string().min(1).default('/var/lib/ehub'),
  /** `pretty` (one coloured line per event), `json`, or unset: pretty on a terminal, JSON otherwise. */
  LOG_FORMAT: z.enum(['pretty', 'json']).optional(),
  /** Browser origins allowed to call the API cross-origin: unset = none (CORS off), `*`, or a comma-separated list. */
  EHUB_CORS_ORIGINS: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? [] : [...new Set(v.split(',').map((o) => o.trim()).filter(Boolean))]))
    .refine((list) => list.every((o) => o === '*' || /^https?:\/\/[^/\s]+$/.test(o)), 'must be `*` or origins like https://console.example.com (scheme://host[:port], comma-separated)'),
  EHUB_ADMIN_KEY: z
    .string()
    .regex(/^ehub_[a-z0-9]{8}_[A-Za-z0-9]{20,}$/, 'must look like ehub_<8 chars>_<secret of 20+ chars>')
    .optional(),
  /** Encrypts stored secrets (webhook signing secrets); unset: generated into the data directory. */
  EHUB_SECRET_KEY: z.string().min(32, 'use 32+ random characters, e.g. `openssl rand -base64 32`').optional(),
  /** While rotating EHUB_SECRET_KEY: the old key, still accepted for reading (`ehub secrets rotate`). */
  EHUB_SECRET_KEY_PREVIOUS: z.string().min(32, 'the previous EHUB_SECRET_KEY (32+ characters)').optional(),
  EHUB_SIGNING_KEY: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  EHUB_BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(1_048_576),
  EHUB_MAX_QUERY_DEPTH: z.coerce.number().int().positive().default(12),
  EHUB_MAX_QUERY_COMPLEXITY: z.coerce.number().int().positive().default(5_000),
  /** GraphQL abuse limits (docs/security.md): aliases per operation, one field repeated in a selection, what a count or analytics root costs. */
  EHUB_MAX_ALIASES: z.coerce.number().int().min(0).default(50),
  EHUB_MAX_FIELD_DUPLICATES: z.coerce.number().int().positive().default(20),
  EHUB_QUERY_AGGREGATE_COST: z.coerce.number().int().min(1).default(25),
  /** One request's time budget: GraphQL execution stops after it, and each transaction's statement_timeout is what is left of it. */
  EHUB_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** Token-bucket rate limits per API key (per client address without a key): capacity refilled over the window; 0 = off. */
  EHUB_RATE_LIMIT_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
  EHUB_RATE_LIMIT_MAX: z.coerce.number().int().min(0).default(1_200),
  EHUB_RATE_LIMIT_LICENSING_MAX: z.coerce.number().int().min(0).default(12_000),
  EHUB_DB_POOL_SIZE: z.coerce.number().int().positive().default(10),
  /** A read replica for the read-only analytics queries (ADR 0051, docs/scaling.md); unset: they read the primary. */
  DATABASE_READ_URL: z.string().url().optional(),
  EHUB_DB_READ_POOL_SIZE: z.coerce.number().int().positive().default(5),
  EHUB_JOBS_ENABLED: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  EHUB_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** `ehub serve` hands back what start-up grew V8's young generation to (ADR 0062): ~130 MB idle instead of ~200; `false` keeps it (GraphQL runs ~15 % faster in its first seconds). */
  EHUB_RELEASE_STARTUP_MEMORY: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /** The contract time zone: service dates (end dates inclusive) become instants in it. */
  EHUB_TIME_ZONE: z.string().default('UTC').refine(isTimeZone, TIME_ZONE_MESSAGE),
  /** The reporting calendar for revenue months and usage recognition; unset = EHUB_TIME_ZONE. */
  EHUB_REPORTING_TIME_ZONE: z.string().optional().refine((tz) => tz === undefined || isTimeZone(tz), TIME_ZONE_MESSAGE),
  /** When the revenue job recognises usage-priced obligations (node-cron expression). */
  EHUB_REVENUE_USAGE_CRON: z.string().default('30 3 * * *'),
  /** How often the entitlement lifecycle job runs (node-cron expression). */
  EHUB_LIFECYCLE_CRON: z.string().default('* * * * *'),
  /** Usage ingestion: how far in the future an event may be stamped, its largest properties, the largest NDJSON body. */
  EHUB_USAGE_MAX_SKEW_SECONDS: z.coerce.number().int().min(0).default(300),
  EHUB_USAGE_MAX_PROPERTIES_BYTES: z.coerce.number().int().positive().default(8192),
  EHUB_USAGE_MAX_BODY_BYTES: z.coerce.number().int().positive().default(67_108_864),
  /**
   * Usage through a durable stream (ADR 0049, docs/usage.md#through-a-durable-stream): a NATS
   * server with JetStream (nats://host:port, comma-separated for a cluster). Unset: ingest
   * writes to PostgreSQL in the request, as always. Set: ingest answers once JetStream has
   * the batch, and every instance's consumer writes it to PostgreSQL.
   */
  EHUB_USAGE_STREAM: z
    .string()
    .regex(/^(nats|tls):\/\/[^\s,]+(,(nats|tls):\/\/[^\s,]+)*$/, 'must be a NATS URL such as nats://127.0.0.1:4222 (comma-separated for several servers)')
    .optional(),
  /**
   * Reaching a NATS server that asks for credentials or TLS (ADR 0064): a `.creds` file (JWT and
   * NKey seed; re-read at each reconnection), the CA of the server's certificate, and a client
   * certificate with its key (when the server verifies clients). A user and password or a
   * token go in EHUB_USAGE_STREAM's URLs (`nats://user:password@host:4222`, `nats://token@host`).
   */
  EHUB_USAGE_STREAM_CREDS: z.string().min(1).optional(),
  /** NKey authentication: a file holding the user's seed (`SU…`); the server lists its public key. */
  EHUB_USAGE_STREAM_NKEY_SEED: z.string().min(1).optional(),
  EHUB_USAGE_STREAM_TLS_CA: z.string().min(1).optional(),
  EHUB_USAGE_STREAM_TLS_CERT: z.string().min(1).optional(),
  EHUB_USAGE_STREAM_TLS_KEY: z.string().min(1).optional(),
  /** How long the first connection to NATS may take at start-up before the hub gives up with an error. */
  EHUB_USAGE_STREAM_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).default(20_000),
  /** The JetStream stream, its subject, and the durable consumer all instances share (one consumer group). */
  EHUB_USAGE_STREAM_NAME: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only').default('EHUB_USAGE'),
  EHUB_USAGE_STREAM_SUBJECT: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'a plain subject such as ehub.usage (no wildcards)').default('ehub.usage'),
  EHUB_USAGE_STREAM_CONSUMER: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only').default('ehub-usage-writer'),
  /** How long JetStream remembers a batch's message id to drop a re-sent batch (the stream's duplicate window). */
  EHUB_USAGE_STREAM_DUPLICATE_WINDOW_MS: z.coerce.number().int().min(1_000).default(600_000),
  /** How long a consumer may hold a batch before JetStream gives it to another instance (AckWait; kept alive while writing). */
  EHUB_USAGE_STREAM_ACK_WAIT_MS: z.coerce.number().int().min(1_000).default(30_000),
  /** Messages (batches) a consumer pulls at once, and the most unacknowledged ones across all instances (max_ack_pending). */
  EHUB_USAGE_STREAM_PULL_BATCH: z.coerce.number().int().min(1).max(1_000).default(8),
  EHUB_USAGE_STREAM_MAX_ACK_PENDING: z.coerce.number().int().min(1).default(256),
  /** `false`: this instance publishes but does not write the stream to PostgreSQL (ingest-only instances). */
  EHUB_USAGE_STREAM_CONSUME: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  EHUB_IMPORT_MAX_BODY_BYTES: z.coerce.number().int().positive().default(1_073_741_824),
  /** Webhook delivery: job schedule (node-cron, seconds field allowed), attempts before DEAD, backoff, timeout. */
  EHUB_WEBHOOK_CRON: z.string().default('*/5 * * * * *'),
  EHUB_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(8),
  EHUB_WEBHOOK_BACKOFF_BASE_MS: z.coerce.number().int().positive().default(10_000),
  EHUB_WEBHOOK_BACKOFF_MAX_MS: z.coerce.number().int().positive().default(3_600_000),
  EHUB_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** Internal webhook receivers allowed despite the private-address guard: CIDRs and host names, comma-separated. */
  EHUB_WEBHOOK_ALLOWED_HOSTS: z
    .string()
    .default('')
    .refine(
      (v) =>
        v
          .split(',')
          .map((e) => e.trim().replace(/^\[(.*)\]$/, '$1'))
          .filter(Boolean)
          .every((e) => (e.includes('/') ? ipaddr.isValidCIDR(e) : ipaddr.isValid(e) || /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?\.?$/i.test(e))),
      'must be comma-separated CIDRs (10.0.0.0/8), addresses or host names',
    ),
  /** Compliance: nightly findings job and the frequent threshold job (node-cron), shelfware rule, notification thresholds, lookback. */
  EHUB_COMPLIANCE_CRON: z.string().default('0 2 * * *'),
  /** Health score: when the job scores every account, and the weights/bands (JSON, any part of the defaults; docs/health.md). */
  EHUB_HEALTH_CRON: z.string().default('30 4 * * *'),
  EHUB_HEALTH_CONFIG: z
    .string()
    .optional()
    .superRefine((v, c) => {
      try {
        parseHealthConfig(v);
      } catch (err) {
        c.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }),
  EHUB_THRESHOLD_CRON: z.string().default('*/5 * * * *'),
  EHUB_UNDERUSE_THRESHOLD: z.coerce.number().min(0).max(1).default(0.2),
  EHUB_UNDERUSE_DAYS: z.coerce.number().int().min(1).max(366).default(30),
  EHUB_CONSUMPTION_THRESHOLDS: z.string().default('50,80,100').transform(numberList).pipe(z.array(z.number().positive().max(10_000)).min(1)),
  EHUB_EXPIRY_THRESHOLDS_DAYS: z.string().default('90,60,30').transform(numberList).pipe(z.array(z.number().int().positive().max(3650)).min(1)),
  EHUB_COMPLIANCE_LOOKBACK_DAYS: z.coerce.number().int().min(1).max(3650).default(400),
  /** CRM/ERP sync: schedules (node-cron), outbox backoff, push batch, how long one run may claim work, run history kept. */
  EHUB_SYNC_PULL_CRON: z.string().default('*/5 * * * *'),
  EHUB_SYNC_PUSH_CRON: z.string().default('* * * * *'),
  EHUB_SYNC_RENEWALS_CRON: z.string().default('15 4 * * *'),
  /** Marks the usage records of closed billing periods (calendar months, UTC) for ERP connections (ADR 0027). */
  EHUB_SYNC_USAGE_PERIODS_CRON: z.string().default('20 * * * *'),
  /** A billing period is sent this long after it ends, so late usage events are in (default 1 day). */
  EHUB_SYNC_USAGE_SETTLE_MS: z.coerce.number().int().min(0).default(86_400_000),
  /** Closed billing periods looked at by each run (late usage of these re-sends their records). */
  EHUB_SYNC_USAGE_LOOKBACK_MONTHS: z.coerce.number().int().min(1).max(24).default(3),
  EHUB_SYNC_BACKOFF_BASE_MS: z.coerce.number().int().positive().default(30_000),
  EHUB_SYNC_BACKOFF_MAX_MS: z.coerce.number().int().positive().default(3_600_000),
  EHUB_SYNC_PUSH_BATCH: z.coerce.number().int().min(1).max(200_000).default(50_000),
  EHUB_SYNC_PULL_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(4),
  EHUB_SYNC_USAGE_PUSH_INTERVAL_MS: z.coerce.number().int().min(0).default(900_000),
  EHUB_SYNC_RUN_BUDGET_MS: z.coerce.number().int().positive().default(600_000),
  EHUB_SYNC_RUN_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** Retention: when the job runs, and how old delivered webhooks, done outbox items and (when set) audit rows may get. */
  EHUB_RETENTION_CRON: z.string().default('45 3 * * *'),
  EHUB_WEBHOOK_DELIVERY_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(30),
  EHUB_OUTBOX_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(30),
  EHUB_AUDIT_RETENTION_DAYS: z.coerce.number().int().min(0).max(36_500).default(0),
  /**
   * Usage partitions (ADR 0053, 0061: events and rollups): when the job runs, how many months ahead of this one keep a
   * partition, and how many whole months before this one keep their raw events (0 = all,
   * forever); older partitions are dropped once their daily rollups count every event, and
   * events older than that are refused (BEYOND_RETENTION).
   */
  EHUB_USAGE_PARTITIONS_CRON: z.string().default('15 3 * * *'),
  EHUB_USAGE_PARTITIONS_AHEAD: z.coerce.number().int().min(1).max(36).default(3),
  EHUB_USAGE_RETENTION_MONTHS: z.coerce.number().int().min(0).max(1_200).default(0),
  /** Churn model (docs/churn.md): labelled terms needed before a model is trained, its L2 penalty, the job's schedule, how often it retrains. */
  EHUB_CHURN_MIN_LABELS: z.coerce.number().int().min(20).max(10_000_000).default(200),
  EHUB_CHURN_L2: z.coerce.number().min(0).max(1_000_000).default(1),
  EHUB_CHURN_CRON: z.string().default('0 5 * * *'),
  EHUB_CHURN_RETRAIN_DAYS: z.coerce.number().int().min(0).max(3650).default(7),
  /** Model fit (docs/model-fit.md): the job's schedule, days of usage history needed, capacity headroom and the saving needed to recommend a change (percent). */
  EHUB_MODEL_FIT_CRON: z.string().default('50 4 * * *'),
  EHUB_MODEL_FIT_MIN_DAYS: z.coerce.number().int().min(1).max(365).default(90),
  EHUB_MODEL_FIT_HEADROOM_PERCENT: z.coerce.number().int().min(0).max(1000).default(10),
  EHUB_MODEL_FIT_MIN_SAVING_PERCENT: z.coerce.number().int().min(0).max(100).default(10),
  /** A Salesforce connection from the environment (JSON objects; see docs/salesforce-setup.md): created or updated at start-up as `salesforce`. */
  EHUB_SALESFORCE_OPTIONS: z.string().optional(),
  EHUB_SALESFORCE_CREDENTIALS: z.string().optional(),
  /** Identity resolution (docs/identity.md): a candidate at or above AUTO merges by itself, between REVIEW and AUTO waits in the review queue, below REVIEW is dropped. */
  EHUB_IDENTITY_AUTO_MERGE_THRESHOLD: z.coerce.number().min(0).max(1).default(0.9),
  EHUB_IDENTITY_REVIEW_THRESHOLD: z.coerce.number().min(0).max(1).default(0.6),
  /** Run identity matching after account pulls (on `account.linked`), this long after the last one; `false` = only on demand. */
  EHUB_IDENTITY_MATCH_AFTER_PULL: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  EHUB_IDENTITY_MATCH_DELAY_MS: z.coerce.number().int().min(0).max(3_600_000).default(5_000),
  /** Finance exports: the general-ledger account codes the journal-entries export posts to. */
  EHUB_GL_REVENUE: z.string().trim().min(1).max(50).default('4000'),
  EHUB_GL_CONTRACT_LIABILITY: z.string().trim().min(1).max(50).default('2400'),
  EHUB_GL_CONTRACT_ASSET: z.string().trim().min(1).max(50).default('1300'),
  EHUB_GL_RECEIVABLE: z.string().trim().min(1).max(50).default('1200'),
  /** Finance exports over HTTP run in worker threads (ADR 0062), at most this many at once; one more gets 429 EXPORTS_BUSY. */
  EHUB_EXPORT_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  /** Software delivery (docs/delivery.md): where artifacts are kept: `fs` (EHUB_DATA_DIR/artifacts) or `s3`. */
  EHUB_ARTIFACT_STORE: z.enum(['fs', 's3']).default('fs'),
  /** The largest artifact an upload may send (bytes; default 8 GiB). */
  EHUB_ARTIFACT_MAX_BYTES: z.coerce.number().int().positive().default(8_589_934_592),
  /** S3-compatible store: bucket, endpoint (unset: AWS), region, path-style addressing, credentials (unset: the AWS default chain). */
  EHUB_S3_BUCKET: z.string().min(3).optional(),
  EHUB_S3_ENDPOINT: z.string().url().optional(),
  EHUB_S3_REGION: z.string().min(1).default('us-east-1'),
  EHUB_S3_FORCE_PATH_STYLE: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  EHUB_S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  EHUB_S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** Download links: default and longest lifetime in seconds (createDownloadLink ttlSeconds). */
  EHUB_DOWNLOAD_LINK_TTL_SECONDS: z.coerce.number().int().min(1).default(600),
  EHUB_DOWNLOAD_LINK_MAX_TTL_SECONDS: z.coerce.number().int().min(1).max(604_800).default(86_400),
  /** Optional MQTT broker for "update available" notices to devices (docs/delivery.md); unset: none are sent. */
  EHUB_MQTT_URL: z
    .string()
    .regex(/^(mqtts?|wss?|tcp|ssl):\/\/\S+$/, 'must be a broker URL such as mqtt://broker:1883 or mqtts://broker:8883')
    .optional(),
  /** For an `mqtts://` broker with a private CA, and a client certificate with its key when the broker asks for one (files; docs/delivery.md). */
  EHUB_MQTT_TLS_CA: z.string().min(1).optional(),
  EHUB_MQTT_TLS_CERT: z.string().min(1).optional(),
  EHUB_MQTT_TLS_KEY: z.string().min(1).optional(),
  /**
   * MQTT 5 by default: the broker answers each notice, so one it refuses (an ACL) is known and
   * tried again later. 4 (MQTT 3.1.1) for a broker without MQTT 5, which drops a refused notice
   * silently (ADR 0065).
   */
  EHUB_MQTT_PROTOCOL_VERSION: z.enum(['4', '5']).default('5').transform((v) => Number(v) as 4 | 5),
  /**
   * How long a notice waits for the broker's PUBACK before its send stops (the connection is
   * dropped; the devices not acknowledged are told at the release's next change).
   */
  EHUB_MQTT_ACK_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  /**
   * The renewal signal of delivery (ADR 0048, docs/delivery.md#renewal-signal): when the job
   * counts devices held back by lapsed maintenance, and what a year of maintenance of a
   * perpetual licence is worth, in percent of its licence price (term lines: their ARR).
   */
  EHUB_DELIVERY_RENEWALS_CRON: z.string().default('40 * * * *'),
  EHUB_MAINTENANCE_RATE_PERCENT: z.coerce.number().min(0).max(1000).default(20),
  /** The hub's address as clients reach it (download links served by the hub start with it); unset: http://localhost:<PORT>. */
  EHUB_PUBLIC_URL: z.string().url().optional(),
});

export type Config = z.infer<typeof schema> & {
  dataDir: string;
  /** Development diagnostics (stack traces to clients) were asked for explicitly: NODE_ENV=development or EHUB_DEBUG. */
  debug: boolean;
};

/** Every environment variable the hub reads (the README's configuration table lists them all). */
export const CONFIG_KEYS: readonly string[] = Object.keys(schema.shape);

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema
    .refine((c) => c.EHUB_IDENTITY_REVIEW_THRESHOLD <= c.EHUB_IDENTITY_AUTO_MERGE_THRESHOLD, {
      message: 'EHUB_IDENTITY_REVIEW_THRESHOLD must not exceed EHUB_IDENTITY_AUTO_MERGE_THRESHOLD',
      path: ['EHUB_IDENTITY_REVIEW_THRESHOLD'],
    })
    .refine((c) => c.EHUB_DOWNLOAD_LINK_TTL_SECONDS <= c.EHUB_DOWNLOAD_LINK_MAX_TTL_SECONDS, {
      message: 'EHUB_DOWNLOAD_LINK_TTL_SECONDS must not exceed EHUB_DOWNLOAD_LINK_MAX_TTL_SECONDS',
      path: ['EHUB_DOWNLOAD_LINK_TTL_SECONDS'],
    })
    .refine((c) => c.EHUB_ARTIFACT_STORE !== 's3' || Boolean(c.EHUB_S3_BUCKET), {
      message: 'EHUB_ARTIFACT_STORE=s3 needs EHUB_S3_BUCKET',
      path: ['EHUB_S3_BUCKET'],
    })
    .safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return {
    ...parsed.data,
    dataDir: path.resolve(parsed.data.EHUB_DATA_DIR),
    debug: parsed.data.NODE_ENV === 'development' || parsed.data.EHUB_DEBUG,
  };
}
