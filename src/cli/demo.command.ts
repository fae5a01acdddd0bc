import type { Command } from 'commander';
import type { DemoOptions } from './demo';
import { load } from './lazy';

/** `ehub demo`: its options here, the work in ./demo.ts (loaded when it runs, with the emulators it may start). */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Load a realistic sample catalog and a few accounts, so a newcomer sees data at once (safe to run again).')
    .option('--book', 'generate a book of customers over years instead (orders, renewals, usage, seats, devices; see docs/churn.md)')
    .option('--accounts <n>', 'with --book: the number of accounts', '2000')
    .option('--years <n>', 'with --book: the years of history', '3')
    .option('--seed <n>', 'with --book: the random seed (the same seed gives the same book)', '1')
    .option('--salesforce', 'also start a local Salesforce emulator with sample deals, connect the hub to it and sync (see docs/sync.md)')
    .option('--netsuite', 'also start a local NetSuite emulator with sample ERP customers, sales orders, invoices and payments, connect the hub to it and pull (with --salesforce: its customers link to the Salesforce ones; see docs/netsuite-setup.md)')
    .option('--emulator-port <n>', 'with --salesforce: the port of the emulator on 127.0.0.1 (0: any free port)', '0')
    .option('--netsuite-port <n>', 'with --netsuite: the port of the NetSuite emulator on 127.0.0.1 (0: any free port)', '0')
    .option('--keep-running', 'with --salesforce or --netsuite: keep the emulators up until Ctrl-C, so a hub started with `npm start` keeps syncing them')
    .action(async (opts: DemoOptions) => {
      await load.demo().runDemo(opts);
    });
}
