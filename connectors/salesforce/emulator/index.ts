/**
 * A Salesforce emulator over real HTTP for tests, the benchmark and `ehub demo`.
 * See README.md in this folder for what is emulated.
 */
export { startSalesforceEmulator } from './server';
export type {
  EmulatorClient,
  EmulatorClock,
  EmulatorFaults,
  EmulatorRequestLog,
  EmulatorStats,
  EmulatorUser,
  FaultSettings,
  FieldValue,
  RecordRejection,
  RecordRejector,
  RequestFaultKind,
  SalesforceEmulator,
  SalesforceEmulatorOptions,
  SeedDealInput,
  SeedDealLine,
  SeedDealResult,
  SfRecord,
} from './types';
