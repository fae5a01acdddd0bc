import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort, startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded-postgres';

const execFileAsync = promisify(execFile);

export interface PrimaryWithReplica {
  primary: EmbeddedDatabase;
  /** The standby's URL for a database. */
  replicaUrl(database?: string): string;
  /** Waits until the standby has replayed everything the primary had written when called. */
  caughtUp(timeoutMs?: number): Promise<void>;
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  stopReplica(): Promise<void>;
  stop(): Promise<void>;
}

async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/**
 * A PostgreSQL primary (embedded, its own cluster) and a hot standby fed by streaming
 * replication — built with the low-level backup API (pg_backup_start, a file copy,
 * pg_backup_stop, backup_label, standby.signal, primary_conninfo), since the embedded
 * binaries have no pg_basebackup. `databases` are created on the primary before the copy.
 */
export async function startPrimaryWithReplica(databases: string[]): Promise<PrimaryWithReplica> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ehub-primary-'));
  const primary = await startEmbeddedPostgres({ dataDir });
  const password = readFileSync(path.join(dataDir, 'pg-password'), 'utf8').trim();
  for (const d of databases) await query(primary.url('postgres'), `CREATE DATABASE ${d}`);
  const admin = new Client({ connectionString: primary.url('postgres') });
  await admin.connect();
  let replica: ChildProcess | null = null;
  let replicaDir = '';
  let placedHome: string | null = null;
  let replicaLog = '';
  const replicaPort = await freePort();
  try {
    // Keep the WAL the standby will ask for; the backup's start point is a fast checkpoint.
    await admin.query(`ALTER SYSTEM SET wal_keep_size = '512MB'`);
    await admin.query(`SELECT pg_reload_conf()`);
    const [{ data_directory: pgDir }] = (await admin.query(`SHOW data_directory`)).rows as { data_directory: string }[];
    const [{ pid, max_connections: maxConnections }] = (await admin.query(`SELECT pg_backend_pid() AS pid, current_setting('max_connections') AS max_connections`)).rows as {
      pid: number;
      max_connections: string;
    }[];
    const bin = await fs.readlink(`/proc/${pid}/exe`);
    const owner = statSync(pgDir);
    // As root the cluster may have been placed outside the 0700 temp folder (ADR 0020): clean that up too.
    if (!pgDir.startsWith(dataDir) && /\/data-[0-9a-f]{16}$/.test(path.dirname(pgDir))) placedHome = path.dirname(pgDir);
    replicaDir = path.join(path.dirname(pgDir), `replica-${path.basename(dataDir)}`);

    await admin.query(`SELECT pg_backup_start('ehub-test-replica', true)`);
    await execFileAsync('cp', ['-a', pgDir, replicaDir]);
    const [{ labelfile }] = (await admin.query(`SELECT labelfile FROM pg_backup_stop(false)`)).rows as { labelfile: string }[];
    for (const f of ['postmaster.pid', 'postmaster.opts']) await fs.rm(path.join(replicaDir, f), { force: true });
    await fs.writeFile(path.join(replicaDir, 'backup_label'), labelfile);
    await fs.writeFile(path.join(replicaDir, 'standby.signal'), '');
    await fs.appendFile(
      path.join(replicaDir, 'postgresql.auto.conf'),
      `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres password=${password} application_name=ehub_test_replica'\nhot_standby = on\n`,
    );
    for (const f of ['backup_label', 'standby.signal', 'postgresql.auto.conf']) await fs.chown(path.join(replicaDir, f), owner.uid, owner.gid);

    const asOwner = process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {};
    // A standby needs max_connections (and the like) at least the primary's.
    replica = spawn(bin, ['-D', replicaDir, '-p', String(replicaPort), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', `max_connections=${maxConnections}`], {
      ...asOwner,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    replica.stderr!.on('data', (b: Buffer) => (replicaLog = (replicaLog + b.toString('utf8')).slice(-4000)));
  } finally {
    await admin.end();
  }
  const replicaUrl = (database = 'postgres') => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${replicaPort}/${database}`;
  // Ready when it accepts (read-only) connections.
  for (let i = 0; ; i++) {
    try {
      await query(replicaUrl(), 'SELECT 1');
      break;
    } catch (err) {
      if (i > 300 || replica!.exitCode !== null) throw new Error(`the standby did not start: ${String(err)}\n${replicaLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const stopReplica = async () => {
    if (!replica || replica.exitCode !== null) return;
    const exited = new Promise((r) => replica!.once('exit', r));
    replica.kill('SIGINT'); // fast shutdown
    await exited;
  };
  return {
    primary,
    replicaUrl,
    async caughtUp(timeoutMs = 30_000) {
      const [{ lsn }] = await query<{ lsn: string }>(primary.url('postgres'), `SELECT pg_current_wal_lsn()::text AS lsn`);
      const until = Date.now() + timeoutMs;
      for (;;) {
        const [{ behind }] = await query<{ behind: boolean }>(replicaUrl(), `SELECT pg_last_wal_replay_lsn() < $1::pg_lsn AS behind`, [lsn]);
        if (!behind) return;
        if (Date.now() > until) throw new Error(`the standby did not reach ${lsn} in ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    pauseReplay: async () => void (await query(replicaUrl(), `SELECT pg_wal_replay_pause()`)),
    resumeReplay: async () => void (await query(replicaUrl(), `SELECT pg_wal_replay_resume()`)),
    stopReplica,
    async stop() {
      await stopReplica();
      await primary.stop();
      if (replicaDir) await fs.rm(replicaDir, { recursive: true, force: true });
      if (placedHome) {
        await fs.rm(placedHome, { recursive: true, force: true });
        await fs.rm(`${placedHome}.source`, { force: true });
      }
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
