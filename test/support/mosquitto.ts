import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/db/embedded-postgres';
import { startDaemon, systemBinary } from './daemon';

/**
 * A Mosquitto broker of the test's own on a free port of 127.0.0.1, with the configuration
 * given (listener options, TLS files, a password file): for what the machine's shared broker
 * on 1883 cannot show. `.ci/run` installs Mosquitto.
 */
export interface Mosquitto {
  port: number;
  output(): string;
  /** Sends the broker a signal: SIGKILL (a crash), SIGSTOP (a broker gone quiet, its connections open), SIGCONT. */
  signal(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

/** A password file for Mosquitto with one user, made with mosquitto_passwd. */
export function passwordFile(dir: string, user: string, password: string): string {
  const file = path.join(dir, 'passwords');
  execFileSync(systemBinary('mosquitto_passwd', 'apt-get install -y mosquitto'), ['-c', '-b', file, user, password], { stdio: 'pipe' });
  return file;
}

/**
 * Starts mosquitto with `listener <port> 127.0.0.1` followed by `conf`; resolves once it accepts
 * connections. `port`: that one (a broker restarted where the hub expects it), else a free one.
 */
export async function startMosquitto(conf: string, dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-mosquitto-')), port?: number): Promise<Mosquitto> {
  port ??= await freePort();
  const file = path.join(dir, 'mosquitto.conf');
  // `user root`: started as root, Mosquitto would otherwise switch to its own user and could not read the test's files.
  fs.writeFileSync(file, `${process.getuid?.() === 0 ? 'user root\n' : ''}listener ${port} 127.0.0.1\n${conf}\n`);
  // "running" is printed once every listener is open ("Opening … socket" comes before its bind).
  const daemon = await startDaemon(systemBinary('mosquitto', 'apt-get install -y mosquitto'), ['-c', file, '-v'], /mosquitto version .* running/);
  return {
    port,
    output: daemon.output,
    signal: (signal) => void daemon.proc.kill(signal),
    async stop() {
      if (daemon.proc.exitCode === null && daemon.proc.signalCode === null) daemon.proc.kill('SIGCONT');
      await daemon.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
