/** Shared by the NetSuite specs: an emulator plus clients for both auth modes. */
import type { ConnectorCallContext } from '../types';
import { NetSuiteClient, type NetSuiteClientOptions } from './client';
import type { NetSuiteEmulator } from './emulator';

export const silentLog = { debug() {}, info() {}, warn() {}, error() {} };
export const ctx: ConnectorCallContext = { log: silentLog };

/** Local emulators must not go through an HTTP proxy. */
export function noProxy(): void {
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) delete process.env[k];
}

export function m2mClient(emu: NetSuiteEmulator, extra: Partial<NetSuiteClientOptions> = {}): NetSuiteClient {
  const c = emu.credentials.m2m!;
  return new NetSuiteClient({
    accountId: emu.accountId,
    baseUrl: emu.url,
    auth: { mode: 'm2m', clientId: c.clientId, certificateId: c.certificateId, privateKey: c.privateKeyPem },
    now: () => emu.clock.nowMs(),
    backoffMs: 5,
    ...extra,
  });
}

export function tbaClient(emu: NetSuiteEmulator, extra: Partial<NetSuiteClientOptions> = {}): NetSuiteClient {
  const t = emu.credentials.tba!;
  return new NetSuiteClient({
    accountId: emu.accountId,
    baseUrl: emu.url,
    auth: { mode: 'tba', ...t },
    now: () => emu.clock.nowMs(),
    backoffMs: 5,
    ...extra,
  });
}
