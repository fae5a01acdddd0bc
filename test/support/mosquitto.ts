import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/db/embedded-postgres';

/**
 * A Mosquitto broker of the test's own on a free port of 127.0.0.1, with the configuration
 * given (listener options, TLS files, a password file): for what the machine's shared broker
 * on 1883 cannot show. `.ci/run` installs Mosquitto.
 */
export interface Mosquitto {
  port: number;
  output(): string;
  stop(): Promise<void>;
}

function binary(name: string): string {
  for (const candidate of [`/usr/sbin/${name}`, `/usr/bin/${name}`, `/usr/local/sbin/${name}`, `/usr/local/bin/${name}`]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`${name} is not installed (apt-get install -y mosquitto; .ci/run does it)`);
  }
}

/** A password file for Mosquitto with one user, made with mosquitto_passwd. */
export function passwordFile(dir: string, user: string, password: string): string {
  const file = path.join(dir, 'passwords');
  execFileSync(binary('mosquitto_passwd'), ['-c', '-b', file, user, password], { stdio: 'pipe' });
  return file;
}

/** Starts mosquitto with `listener <port> 127.0.0.1` followed by `conf`; resolves once it accepts connections. */
export async function startMosquitto(conf: string, dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ehub-mosquitto-'))): Promise<Mosquitto> {
  const port = await freePort();
  const file = path.join(dir, 'mosquitto.conf');
  // `user root`: started as root, Mosquitto would otherwise switch to its own user and could not read the test's files.
  fs.writeFileSync(file, `${process.getuid?.() === 0 ? 'user root\n' : ''}listener ${port} 127.0.0.1\n${conf}\n`);
  const proc: ChildProcess = spawn(binary('mosquitto'), ['-c', file, '-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (chunk: Buffer) => (out += chunk.toString());
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mosquitto did not start in 15 s:\n${out}`)), 15_000);
    const check = () => {
      if (/Opening ipv4 listen socket on port/.test(out) || /mosquitto version .* running/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mosquitto exited (${code}):\n${out}`));
    });
  });
  return {
    port,
    output: () => out,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
