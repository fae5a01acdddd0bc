#!/usr/bin/env node
import 'reflect-metadata';
import { Command, Option } from 'commander';
import { loadConfig } from '../config';
import { VERSION } from '../version';
import { createLogger, startHub } from '../server/hub';
import { registerKeyCommands } from './keys.command';
import { registerMigrateCommand } from './migrate.command';
import { registerDemoCommand } from './demo.command';
import { registerSchemaCommand } from './schema.command';
import { registerExportCommands } from './export.command';
import { registerSyncCommand } from './sync.command';
import { registerBackupCommands } from './backup.command';
import { registerSecretsCommands } from './secrets.command';
import { registerBiCommands } from './bi.command';
import { registerIdentityCommands } from './identity.command';
import { registerCertificateCommands } from '../certificates/certificate.command';
import { registerArtifactCommands } from '../delivery/artifact.command';

const program = new Command();
program
  .name('ehub')
  .description('Entitlement Hub: orders to entitlements, licensing, usage, CRM/ERP sync and revenue recognition.')
  .version(VERSION)
  .showHelpAfterError();

program
  .command('serve')
  .description('Run the hub: GraphQL on PORT (default 4000), embedded PostgreSQL unless DATABASE_URL is set.')
  .addOption(new Option('-p, --port <port>', 'port to listen on (overrides PORT)'))
  .action(async (opts: { port?: string }) => {
    const config = loadConfig({ ...process.env, ...(opts.port ? { PORT: opts.port } : {}) });
    const log = createLogger(config);
    const hub = await startHub(config, log);
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down: draining requests, stopping jobs, closing the database');
      hub.stop().then(
        () => {
          log.info('stopped');
          process.exit(0);
        },
        (err) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  });

registerMigrateCommand(program);
registerKeyCommands(program);
registerCertificateCommands(program);
registerArtifactCommands(program);
registerDemoCommand(program);
registerSchemaCommand(program);
registerExportCommands(program);
registerSyncCommand(program);
registerBackupCommands(program);
registerIdentityCommands(program);
registerSecretsCommands(program);
registerBiCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
