import type { Readable } from 'node:stream';
import { parseUsageLine, reject, UsageRejectionCode, type ParseLimits, type ParsedUsageEvent } from './usage.rules';

export interface NdjsonLimits {
  /** Most events (non-blank lines) in one body. */
  maxEvents: number;
  /** Most bytes in one body. */
  maxBytes: number;
  /** Longest line kept in memory; a longer one is rejected without being parsed. */
  maxLineBytes: number;
  parse: ParseLimits;
}

export type NdjsonOutcome =
  | { kind: 'ok'; events: ParsedUsageEvent[]; bytes: number }
  /** More than maxEvents lines: nothing of the body is taken. */
  | { kind: 'too-many-events'; bytes: number }
  /** More than maxBytes: reading stopped there (the connection should be closed). */
  | { kind: 'too-large'; bytes: number };

const NEWLINE = 0x0a;

/**
 * Reads an NDJSON body as it arrives: each line is parsed and checked as soon as it is
 * complete, so only parsed events are held, never the raw body. Blank lines are skipped but
 * keep their number (an event's index is its line number minus one). Rejects (an Error) when
 * the client goes away before the end: a partial body is never ingested.
 */
export function readUsageNdjson(stream: Readable, limits: NdjsonLimits): Promise<NdjsonOutcome> {
  return new Promise((resolve, fail) => {
    const events: ParsedUsageEvent[] = [];
    let bytes = 0;
    let lineNo = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let tooMany = false;
    let settled = false;

    const line = (text: string) => {
      const index = lineNo++;
      if (tooMany) return;
      const trimmed = text.endsWith('\r') ? text.slice(0, -1) : text;
      if (trimmed.trim() === '') return;
      if (events.length >= limits.maxEvents) {
        tooMany = true;
        events.length = 0; // nothing of this body is taken: let it go now
        return;
      }
      events.push(parseUsageLine(trimmed, index, limits.parse));
    };
    const longLine = () => {
      const index = lineNo++;
      if (tooMany) return;
      if (events.length >= limits.maxEvents) {
        tooMany = true;
        events.length = 0;
        return;
      }
      events.push(reject(index, null, UsageRejectionCode.INVALID_EVENT, `the line is longer than ${limits.maxLineBytes} bytes`));
    };
    const finishPending = (tail: Buffer) => {
      if (pendingBytes + tail.length > limits.maxLineBytes) longLine();
      else line(pending.length ? Buffer.concat([...pending, tail]).toString('utf8') : tail.toString('utf8'));
      pending = [];
      pendingBytes = 0;
    };
    const done = (outcome: NdjsonOutcome | Error) => {
      if (settled) return;
      settled = true;
      stream.off('data', onData);
      if (outcome instanceof Error) fail(outcome);
      else resolve(outcome);
    };

    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limits.maxBytes) {
        stream.pause();
        done({ kind: 'too-large', bytes });
        return;
      }
      if (tooMany) return; // drain what is left, parsing nothing
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(NEWLINE, start);
        if (nl === -1) break;
        if (pendingBytes > 0 || pending.length > 0) finishPending(chunk.subarray(start, nl));
        else if (nl - start > limits.maxLineBytes) longLine();
        else line(chunk.toString('utf8', start, nl));
        start = nl + 1;
      }
      if (start < chunk.length) {
        // A line continues in the next chunk; past the line limit only its length is kept.
        if (pendingBytes + (chunk.length - start) > limits.maxLineBytes) {
          pendingBytes += chunk.length - start;
          pending = [];
        } else {
          pending.push(chunk.subarray(start));
          pendingBytes += chunk.length - start;
        }
      }
    };

    stream.on('data', onData);
    stream.once('end', () => {
      if (pendingBytes > 0) finishPending(Buffer.alloc(0));
      done(tooMany ? { kind: 'too-many-events', bytes } : { kind: 'ok', events, bytes });
    });
    stream.once('error', (err) => done(err));
    stream.once('close', () => done(new Error('the request body ended early (client gone)')));
  });
}
