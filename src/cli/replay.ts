import type { Command } from 'commander';
import { callApi } from './client.ts';
import { registerReplayQuarantineCommand } from './replay-quarantine.ts';

export function registerReplayCommands(program: Command): void {
  const replay = program.command('replay').description('move stored-but-not-loaded events back into the pipeline');
  replay
    .command('dead-letter')
    .description('requeue jobs that exhausted their insert attempts')
    .action(async () => {
      const result = await callApi<{ requeued: number }>('POST', '/api/admin/replay/dead-letter');
      console.log(`requeued ${result.requeued} job(s)`);
    });
  registerReplayQuarantineCommand(program);
}
