/**
 * `balise privacy erase|export <id>`: data-subject requests, through the running server's admin
 * API (the engine belongs to that process in embedded mode; decision 0008).
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { ErasureReport } from '../privacy/erase.ts';
import type { PersonExport } from '../privacy/export.ts';
import { callApi } from './client.ts';

export function formatErasure(report: ErasureReport): string {
  const dry = report.state === 'dry_run';
  const lines = [
    `${dry ? 'would erase' : report.resumed ? 'erased (finished an interrupted run)' : 'erased'} "${report.subject}": ${report.ids.length} linked id(s)${report.requestId ? `, request ${report.requestId}` : ''}`,
  ];
  // A dry run is where a shared device shows up: the ids themselves, to check before erasing.
  if (dry) lines.push(`  ids: ${report.ids.join(', ')}`);
  const width = Math.max(24, ...Object.keys(report.tables).map((t) => t.length));
  for (const [table, counts] of Object.entries(report.tables)) lines.push(`  ${table.padEnd(width)} ${String(counts.found).padStart(8)} found  ${String(counts.remaining).padStart(6)} remaining`);
  if (report.suppressed) lines.push(dry ? '  later events from these ids would be dropped at ingest (suppression list)' : '  later events from these ids are dropped at ingest (suppression list)');
  return lines.join('\n');
}

export function registerPrivacyCommands(program: Command): void {
  const privacy = program.command('privacy').description('data-subject requests: erase or export everything held about one person');
  privacy
    .command('erase <id>')
    .description('erase every row of the person this id belongs to (all ids stitched to it); resumes an interrupted run')
    .option('--dry-run', 'resolve the ids and count the rows, delete nothing')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { dryRun?: boolean; json?: boolean }) => {
      const report = await callApi<ErasureReport>('POST', '/api/admin/privacy/erase', { id, dryRun: Boolean(opts.dryRun) });
      console.log(opts.json ? JSON.stringify(report, null, 2) : formatErasure(report));
    });
  privacy
    .command('export <id>')
    .description('export every row of the person this id belongs to, as JSON')
    .option('--out <file>', 'write to this file (mode 600) instead of stdout')
    .action(async (id: string, opts: { out?: string }) => {
      const data = await callApi<PersonExport>('POST', '/api/admin/privacy/export', { id });
      const text = `${JSON.stringify(data, null, 2)}\n`;
      if (!opts.out) return void process.stdout.write(text);
      fs.writeFileSync(opts.out, text, { mode: 0o600 });
      // The mode applies to a new file only: one that was there is made private too.
      fs.chmodSync(opts.out, 0o600);
      const rows = Object.values(data.tables).reduce((n, rows) => n + rows.length, 0);
      console.error(`wrote ${rows} row(s) of ${data.ids.length} linked id(s) to ${opts.out}`);
    });
}
