/**
 * Test helpers for the Salesforce connector specs: a silent logger, a connector against an
 * emulator, and collectors for pulls and thrown ConnectorErrors.
 */
import { ConnectorError, type Connector, type ConnectorCallContext, type PullObject, type PullPage } from '../types';
import type { SalesforceEmulator } from './emulator';
import { salesforceConnector } from './index';

export const quietCtx: ConnectorCallContext = {
  log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
};

/** A client-credentials connector to the emulator's default app, polling bulk jobs every 20 ms. */
export function connectTo(
  emu: SalesforceEmulator,
  options: Record<string, unknown> = {},
  credentials: Record<string, string> = { clientSecret: 'emulator-secret' },
): Connector {
  return salesforceConnector.create({
    options: { loginUrl: emu.url, auth: 'client_credentials', clientId: 'emulator-client', bulkPollIntervalMs: 20, ...options },
    credentials,
  });
}

export async function pullAll<O extends PullObject>(c: Connector, object: O, cursor: string | null = null): Promise<PullPage<O>[]> {
  const pages: PullPage<O>[] = [];
  for await (const page of c.pull(quietCtx, { object, cursor })) pages.push(page);
  return pages;
}

/** The ConnectorError a promise rejects with (fails the test when it resolves or throws something else). */
export async function connectorError(p: Promise<unknown>): Promise<ConnectorError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ConnectorError) return err;
    throw new Error(`expected a ConnectorError, got ${String(err)}`);
  }
  throw new Error('expected a ConnectorError, but the call succeeded');
}
