import pino, { type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import type { Config } from '../config';

/**
 * Logs (pino): one readable line per event on a terminal, JSON lines otherwise or with
 * LOG_FORMAT=json. One-shot CLI commands log to stderr so their stdout stays pipeable.
 */
export function createLogger(config: Config, opts: { stderr?: boolean; stream?: NodeJS.WritableStream & { isTTY?: boolean } } = {}): Logger {
  const stream = opts.stream ?? (opts.stderr ? process.stderr : process.stdout);
  const tty = stream.isTTY === true;
  const options = { level: config.LOG_LEVEL, base: { service: 'ehub' } };
  if ((config.LOG_FORMAT ?? (tty ? 'pretty' : 'json')) === 'pretty') {
    const destination = opts.stream ?? (opts.stderr ? 2 : 1);
    return pino(
      options,
      pinoPretty({ destination, sync: true, colorize: tty, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }),
    );
  }
  return pino(options, opts.stream ?? (opts.stderr ? pino.destination(2) : undefined));
}
