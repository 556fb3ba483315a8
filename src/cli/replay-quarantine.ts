/**
 * `balise replay quarantine`: the lead's `replay` command calls replayQuarantineAction. In
 * embedded mode chDB belongs to the running server, so this goes through its admin API
 * (POST /api/admin/replay/quarantine), which runs replayQuarantine() in that process.
 */
import type { Command } from 'commander';
import { BaliseError } from '../errors.ts';
import { parseDateInput } from '../util/dates.ts';
import type { ReplayQuarantineResult } from '../queue/replay-quarantine.ts';
import { callApi } from './client.ts';

/** Epoch milliseconds, a day (2024-01-31) or an ISO 8601 date-time (util/dates.ts). */
export function parseSince(value: string | number | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'number') return value;
  const date = parseDateInput(value, { epochMs: true });
  if (!date) throw new BaliseError('invalid_since', `--since: not a date or epoch milliseconds: "${value}"`);
  return date.ms;
}

export async function replayQuarantineAction(opts: { event?: string; since?: string }, baseUrl?: string): Promise<ReplayQuarantineResult> {
  const since = parseSince(opts.since);
  const body: { event?: string; since?: number } = {};
  if (opts.event) body.event = opts.event;
  if (since !== undefined) body.since = since;
  const result = await callApi<ReplayQuarantineResult>('POST', '/api/admin/replay/quarantine', body, baseUrl);
  console.log(
    `examined ${result.examined}, moved ${result.moved} into events${result.movedUnderCurrent ? ` (${result.movedUnderCurrent} under the current plan version, their declared one still refusing them)` : ''}, still invalid ${result.stillInvalid}, already stored (resent by the client) ${result.alreadyStored ?? 0}`,
  );
  if (result.malformed) console.log(`${result.malformed} malformed payload(s) in quarantine are not events Balise can read (see their reasons, malformed:*): never replayed; fix the sender`);
  if (result.stays?.length) {
    console.log('still in quarantine, and why:');
    for (const s of result.stays) console.log(`  ${s.messageId} ${s.event}: ${s.why}`);
    if (result.staysNotExplained) console.log(`  … and ${result.staysNotExplained} more`);
  }
  return result;
}

/** For a program without the lead's `replay` parent: adds `replay quarantine`. */
export function registerReplayQuarantineCommand(program: Command): void {
  const replay = program.commands.find((c) => c.name() === 'replay') ?? program.command('replay').description('replay stored events');
  replay
    .command('quarantine')
    .description('re-validate quarantined events against the current plan; move what now passes into events (exactly once)')
    .option('--event <name>', 'only this event')
    .option('--since <date>', 'only events received since this date (ISO date or epoch ms)')
    .action(async (opts: { event?: string; since?: string }) => {
      await replayQuarantineAction(opts);
    });
}
