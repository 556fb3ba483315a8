import type { Command } from 'commander';
import { callApi } from './client.ts';

export function registerReplayCommands(program: Command): void {
  const replay = program.command('replay').description('move stored-but-not-loaded events back into the pipeline');
  replay
    .command('quarantine')
    .description('re-validate quarantined events against the current plan; move what now passes into events (exactly once)')
    .option('--event <name>', 'only this event')
    .option('--since <date>', 'only events received since this date')
    .action(async (opts: { event?: string; since?: string }) => {
      const result = await callApi<{ examined: number; moved: number; stillInvalid: number }>('POST', '/api/admin/replay/quarantine', opts);
      console.log(`examined ${result.examined}, moved ${result.moved} into events, still invalid ${result.stillInvalid}`);
    });
  replay
    .command('dead-letter')
    .description('requeue jobs that exhausted their insert attempts')
    .action(async () => {
      const result = await callApi<{ requeued: number }>('POST', '/api/admin/replay/dead-letter');
      console.log(`requeued ${result.requeued} job(s)`);
    });
}
