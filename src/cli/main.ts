#!/usr/bin/env node
// First: OpenTelemetry (when the OTEL_* variables ask for it) must hook modules before they load.
import { flushTelemetry } from '../telemetry/register';
import 'reflect-metadata';
import { Command, Option } from 'commander';
import { loadConfig } from '../config';
import { VERSION } from '../version';
import { load } from './lazy';
import { registerKeyCommands } from './keys.command';
import { registerMigrateCommand } from './migrate.command';
import { registerDemoCommand } from './demo.command';
import { registerSchemaCommand } from './schema.command';
import { registerOpenApiCommand } from './openapi.command';
import { registerExportCommands } from './export.command';
import { registerSyncCommand } from './sync.command';
import { registerBackupCommands } from './backup.command';
import { registerSecretsCommands } from './secrets.command';
import { registerBiCommands } from './bi.command';
import { registerIdentityCommands } from './identity.command';
import { registerCertificateCommands } from '../certificates/certificate.command';
import { registerArtifactCommands } from '../delivery/artifact.command';

const program = new Command();
/** Set by `serve`, which returns at once and keeps running. */
let serving = false;
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
    serving = true;
    const config = loadConfig({ ...process.env, ...(opts.port ? { PORT: opts.port } : {}) });
    const log = load.logger().createLogger(config);
    const hub = await load.hub().startHub(config, log, { releaseStartupMemory: config.EHUB_RELEASE_STARTUP_MEMORY });
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down: draining requests, stopping jobs, closing the database');
      hub.stop().then(
        async () => {
          log.info('stopped');
          await flushTelemetry();
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
registerOpenApiCommand(program);
registerExportCommands(program);
registerSyncCommand(program);
registerBackupCommands(program);
registerIdentityCommands(program);
registerSecretsCommands(program);
registerBiCommands(program);

program
  .parseAsync(process.argv)
  // `serve` returns at once and keeps running; other commands end here: flush their spans.
  .then(() => (serving ? undefined : flushTelemetry()))
  .catch(async (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    await flushTelemetry();
    process.exit(1);
  });
