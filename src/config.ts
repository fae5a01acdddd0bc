import path from 'node:path';
import { z } from 'zod';

/**
 * Every setting the hub reads from the environment, validated once at start-up.
 * The README's configuration table mirrors this schema; keep them in step.
 */
const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  DATABASE_URL: z.string().url().optional(),
  EHUB_DATA_DIR: z.string().default('./.ehub'),
  EHUB_ADMIN_KEY: z
    .string()
    .regex(/^ehub_[a-z0-9]{8}_[A-Za-z0-9]{20,}$/, 'must look like ehub_<8 chars>_<secret of 20+ chars>')
    .optional(),
  EHUB_SECRET_KEY: z.string().optional(),
  EHUB_SIGNING_KEY: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  EHUB_BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(1_048_576),
  EHUB_MAX_QUERY_DEPTH: z.coerce.number().int().positive().default(12),
  EHUB_MAX_QUERY_COMPLEXITY: z.coerce.number().int().positive().default(5_000),
  EHUB_DB_POOL_SIZE: z.coerce.number().int().positive().default(10),
  EHUB_JOBS_ENABLED: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  EHUB_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** The contract time zone: service dates (end dates inclusive) become instants in it. */
  EHUB_TIME_ZONE: z
    .string()
    .default('UTC')
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone, e.g. UTC or Europe/Berlin'),
  /** How often the entitlement lifecycle job runs (node-cron expression). */
  EHUB_LIFECYCLE_CRON: z.string().default('* * * * *'),
});

export type Config = z.infer<typeof schema> & { dataDir: string };

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return { ...parsed.data, dataDir: path.resolve(parsed.data.EHUB_DATA_DIR) };
}
