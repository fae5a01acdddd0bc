import type { Command } from 'commander';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Load a realistic sample catalog and a few accounts, so a newcomer sees data at once.')
    .action(async () => {
      throw new Error('demo: not implemented yet');
    });
}
