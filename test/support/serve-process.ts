import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
/** The CLI as `npm start` runs it, compiled on the fly (no build step in tests). */
export const CLI = ['-r', '@swc-node/register', path.join(ROOT, 'src/cli/main.ts')];

export interface ServedHub {
  proc: ChildProcess;
  /** http://127.0.0.1:<port>, from the hub's "Entitlement Hub is listening" log line. */
  url: string;
  /** Settles with the exit code (or signal) when the process ends. */
  exited: Promise<number | string | null>;
  /** Everything the process printed so far (the last megabyte). */
  output(): string;
}

/**
 * Starts `ehub serve` as a child process with exactly `env` (plus PORT=0 and HOST=127.0.0.1
 * unless given) and resolves once it listens; rejects with its output if it exits first or
 * does not listen within `timeoutMs`. Used by the tests and benchmarks that need a real
 * process: to kill it, to give it its own environment, or to run several.
 */
export function spawnServe(env: NodeJS.ProcessEnv, opts: { timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<ServedHub> {
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...CLI, 'serve'], {
    cwd: ROOT,
    env: { PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.length > 2_000_000) out = out.slice(-1_000_000);
  };
  const exited = new Promise<number | string | null>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal)));
  let started = false;
  return new Promise<ServedHub>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ehub serve did not start within ${opts.timeoutMs ?? 90_000} ms:\n${out}`)), opts.timeoutMs ?? 90_000);
    proc.stdout!.on('data', (chunk: Buffer) => {
      keep(chunk);
      if (started) return;
      const line = out.split('\n').find((l) => l.includes('Entitlement Hub is listening'));
      if (line) {
        clearTimeout(timer);
        started = true;
        resolve({ proc, url: (JSON.parse(line) as { address: string }).address, exited, output: () => out });
      }
    });
    proc.stderr!.on('data', keep);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`ehub serve exited with ${String(code)}:\n${out}`));
    });
  });
}
