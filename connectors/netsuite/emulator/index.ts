/**
 * A NetSuite (SuiteTalk REST) emulator over real HTTP for tests, benchmarks and the demo.
 * See README.md in this folder.
 */
export { startNetSuiteEmulator, errorBody, SUITEQL_MAX_ROWS } from './server';
export type { NetSuiteEmulator, NetSuiteEmulatorOptions, EmulatorStats, FaultSettings, RequestFaultKind } from './server';
export type { M2MClient, TbaIntegration } from './auth';
export type { RecordRejector } from './records';
export type { SeedContact, SeedCustomer, SeedItem, SeedOrderLine, SeedTransaction, TranType } from './seed';
export { Seeder } from './seed';
export { Store } from './store';
