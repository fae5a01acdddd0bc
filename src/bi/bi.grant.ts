import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { AppError } from '../common/errors';

/** The settings a BI role runs with: reads only, the `bi` views first, a bounded query time. */
const ROLE_SETTINGS: Array<[string, string]> = [
  ['default_transaction_read_only', 'on'],
  ['search_path', 'bi'],
  ['statement_timeout', '120s'],
];

export interface BiGrant {
  role: string;
  /** Set when the role was created or its password set by this call (shown once, stored nowhere). */
  password: string | null;
  created: boolean;
  database: string;
  views: string[];
}

/**
 * Creates (or brings up to date) a PostgreSQL role for a BI tool that can read the `bi`
 * views and nothing else: no right on the hub's tables (views run with their owner's rights),
 * read-only transactions, `bi` on its search path. Safe to run again: an existing role keeps
 * its password unless one is given; a powerful existing role (superuser, CREATEROLE,
 * CREATEDB, BYPASSRLS, or one that may log in as the hub's own user) is refused rather than
 * "downgraded" by surprise.
 */
export async function grantBiRole(ds: DataSource, role: string, opts: { password?: string | null; login?: boolean } = {}): Promise<BiGrant> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role)) {
    throw new AppError('BAD_USER_INPUT', 'BI_ROLE_INVALID', `"${role}" is not a usable role name: lower-case letters, digits and _, starting with a letter or _, at most 63 characters`);
  }
  if (opts.password !== undefined && opts.password !== null && opts.password.length < 12) {
    throw new AppError('BAD_USER_INPUT', 'BI_PASSWORD_TOO_SHORT', 'A BI role password must have at least 12 characters (or leave it out and one is generated)');
  }
  const login = opts.login ?? true;
  return ds.transaction(async (m) => {
    const [me] = await m.query(`SELECT current_user AS me, current_database() AS db`);
    if (role === me.me) throw new AppError('BAD_USER_INPUT', 'BI_ROLE_IS_HUB', `"${role}" is the role the hub itself connects as; choose another name for the BI role`);
    const [existing] = await m.query(
      `SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication FROM pg_roles WHERE rolname = $1`,
      [role],
    );
    if (existing && (existing.rolsuper || existing.rolcreaterole || existing.rolcreatedb || existing.rolbypassrls || existing.rolreplication)) {
      throw new AppError('BAD_USER_INPUT', 'BI_ROLE_PRIVILEGED', `The role "${role}" exists with administrative rights; a BI role must not have them. Choose another name.`);
    }
    const password = opts.password ?? (existing ? null : randomBytes(18).toString('base64url'));
    const run = async (sql: string, ...args: string[]) => {
      // format() quotes identifiers (%I) and literals (%L) the way PostgreSQL itself does.
      const [{ stmt }] = await m.query(`SELECT format($1, ${args.map((_, i) => `$${i + 2}::text`).join(', ')}) AS stmt`, [sql, ...args]);
      await m.query(stmt);
    };
    if (!existing) {
      await run(`CREATE ROLE %I ${login ? 'LOGIN' : 'NOLOGIN'} NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS`, role);
    }
    if (password !== null) await run(`ALTER ROLE %I WITH ${login ? 'LOGIN' : 'NOLOGIN'} PASSWORD %L`, role, password);
    await run(`GRANT CONNECT ON DATABASE %I TO %I`, me.db, role);
    await run(`GRANT USAGE ON SCHEMA bi TO %I`, role);
    await run(`GRANT SELECT ON ALL TABLES IN SCHEMA bi TO %I`, role);
    // Views a later migration adds (created by the same owner) are readable without a new grant.
    await run(`ALTER DEFAULT PRIVILEGES IN SCHEMA bi GRANT SELECT ON TABLES TO %I`, role);
    for (const [name, value] of ROLE_SETTINGS) await run(`ALTER ROLE %I SET ${name} = %L`, role, value);
    const views: { table_name: string }[] = await m.query(
      `SELECT table_name FROM information_schema.views WHERE table_schema = 'bi' ORDER BY table_name`,
    );
    return { role, password, created: !existing, database: me.db, views: views.map((v) => v.table_name) };
  });
}

/** Takes every right `grantBiRole` gave and drops the role (`ehub bi revoke`). */
export async function revokeBiRole(ds: DataSource, role: string): Promise<boolean> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role)) throw new AppError('BAD_USER_INPUT', 'BI_ROLE_INVALID', `"${role}" is not a usable role name`);
  return ds.transaction(async (m) => {
    const [existing] = await m.query(`SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = $1`, [role]);
    if (!existing) return false;
    if (existing.rolsuper || existing.rolcreaterole) throw new AppError('BAD_USER_INPUT', 'BI_ROLE_PRIVILEGED', `"${role}" is not a BI role; it is left alone`);
    const [{ db }] = await m.query(`SELECT current_database() AS db`);
    for (const sql of [
      `ALTER DEFAULT PRIVILEGES IN SCHEMA bi REVOKE SELECT ON TABLES FROM %I`,
      `REVOKE ALL ON ALL TABLES IN SCHEMA bi FROM %I`,
      `REVOKE ALL ON SCHEMA bi FROM %I`,
    ]) {
      const [{ stmt }] = await m.query(`SELECT format($1, $2::text) AS stmt`, [sql, role]);
      await m.query(stmt);
    }
    const [{ stmt: revokeDb }] = await m.query(`SELECT format('REVOKE ALL ON DATABASE %I FROM %I', $1::text, $2::text) AS stmt`, [db, role]);
    await m.query(revokeDb);
    const [{ stmt: drop }] = await m.query(`SELECT format('DROP ROLE %I', $1::text) AS stmt`, [role]);
    await m.query(drop);
    return true;
  });
}
