import type { Command } from 'commander';
import { loadKpiDefinitions } from '../analytics/definitions.ts';
import { lintDefinitionsAgainstPlan } from '../analytics/kpi-lint.ts';
import { BaliseError } from '../errors.ts';
import { loadConfig } from '../config/index.ts';
import { projectTimeZone } from '../api/time-zone.ts';
import { loadPlan } from '../plan/load.ts';
import { callApi } from './client.ts';
import { MetabaseClient } from '../metabase/client.ts';
import { provisionMetabase, type ProvisionReport } from '../metabase/provision.ts';
import { clickhouseDetails, metabaseSettings } from '../metabase/settings.ts';

export function formatProvisionReport(report: ProvisionReport, dryRun = false): string[] {
  const c = report.cards;
  const lines = [
    `database "Balise ClickHouse" #${report.database.id}: ${report.database.action}${report.database.action === 'unchanged' ? ' (its password cannot be read back: --update-connection sends it)' : ''}`,
    `collection "Balise" #${report.collection.id}: ${report.collection.action}`,
    `questions: ${c.created.length} created, ${c.updated.length} updated, ${c.archived.length} archived, ${c.restored.length} restored, ${c.unchanged.length} unchanged`,
    ...c.created.map((k) => `  + ${k}`),
    ...c.updated.map((k) => `  ~ ${k}`),
    ...c.archived.map((k) => `  - ${k} (archived)`),
    ...c.restored.map((k) => `  ^ ${k} (restored from the archive)`),
    `dashboard "Balise KPIs" #${report.dashboard.id}: ${report.dashboard.action}`,
    report.writes === 0
      ? 'Metabase was already up to date: nothing changed.'
      : dryRun
        ? `${report.writes} change(s) to write; dry run: nothing was sent.`
        : `${report.writes} change(s) written to Metabase.`,
  ];
  // What a run would do, said as such: the ids of what it would create do not exist yet.
  return dryRun ? ['Dry run: what `balise metabase provision` would change.', ...lines.map((line) => line.replace(/ #-\d+: created$/, ': would be created'))] : lines;
}

export function registerMetabaseCommand(program: Command): void {
  const metabase = program.command('metabase').description('Metabase as code');
  metabase
    .command('provision')
    .description('create or update, idempotently, the ClickHouse connection, one question per KPI and funnel, and the "Balise KPIs" dashboard (METABASE_URL, METABASE_USER, METABASE_PASSWORD)')
    .option('--clickhouse-url <url>', 'ClickHouse URL as Metabase reaches it (default: CLICKHOUSE_URL), e.g. http://clickhouse:8123 in docker compose')
    .option('--json', 'print the report as JSON')
    .option('--dry-run', 'read Metabase and say what a run would create, update, archive or restore, writing nothing')
    .option('--update-connection', 'send the ClickHouse connection even if it looks unchanged (after a password change: Metabase never shows the password it has)')
    .action(async (opts: { clickhouseUrl?: string; json?: boolean; dryRun?: boolean; updateConnection?: boolean }) => {
      const config = loadConfig();
      const settings = metabaseSettings(config);
      const details = clickhouseDetails(config, opts.clickhouseUrl);
      const plan = await loadPlan(config.planDir);
      const definitions = await loadKpiDefinitions(config.planDir, plan);
      // What `plan check` refuses (an unplanned event, an unknown property) is not pushed to Metabase as a question reading 0.
      const errors = lintDefinitionsAgainstPlan(plan, definitions).filter((m) => m.severity === 'error');
      if (errors.length) {
        throw new BaliseError(
          'kpi_definition_invalid',
          `kpis/ has ${errors.length} error(s) that \`balise plan check\` reports; nothing was sent to Metabase. First: ${errors[0]!.file}:${errors[0]!.line} ${errors[0]!.message}`,
        );
      }
      const timeZone = projectTimeZone(config, plan);
      const dryRun = opts.dryRun === true;
      const report = await provisionMetabase(new MetabaseClient({ ...settings, dryRun }), { clickhouse: details, definitions, timeZone, updateConnection: opts.updateConnection === true });
      console.log(opts.json ? JSON.stringify({ ...report, dryRun }, null, 2) : formatProvisionReport(report, dryRun).join('\n'));
      if (dryRun) return;
      // Provisioning talks to Metabase, not to Balise: it reports itself to the audit log when a server is up.
      await callApi('POST', '/api/admin/audit', { action: 'metabase.provision' }).catch((error: unknown) =>
        console.error(`balise: provisioned, but not recorded in the audit log (${error instanceof Error ? error.message : String(error)})`),
      );
    });
}
