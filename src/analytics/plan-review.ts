/**
 * What a plan change means for the numbers people read: the KPIs and funnels whose events
 * change, the KPI definitions added, removed or edited, and where each is shown. Rendered as
 * the Markdown of a pull-request comment by `balise plan diff --format markdown`. Pure.
 */
import type { DiffReport, PlanChange } from '../plan/diff.ts';
import { kpisByEvent } from './event-kpis.ts';
import type { FunnelDefinition, KpiDefinitions, MetricDefinition } from './model.ts';

export interface KpiImpact {
  id: string;
  kind: 'metric' | 'funnel';
  title: string;
  /** What touches it: a changed event, or its own definition. */
  reasons: string[];
  breaking: boolean;
}

export interface PlanReview {
  report: DiffReport;
  impacts: KpiImpact[];
}

type Definition = MetricDefinition | FunnelDefinition;

function definitionsById(defs: KpiDefinitions): Map<string, Definition> {
  return new Map<string, Definition>([...defs.funnels, ...defs.metrics].map((d) => [d.id, d]));
}

/** A definition's content without where it was written, to compare two versions. */
function content(d: Definition): string {
  const { file: _f, line: _l, ...rest } = d;
  const clean = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(clean);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v)
          .filter(([k]) => k !== 'line')
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, x]) => [k, clean(x)]),
      );
    }
    return v;
  };
  return JSON.stringify(clean(rest));
}

function eventOf(change: PlanChange): string | undefined {
  const m = /^events\/([^/]+)/.exec(change.target);
  return m?.[1];
}

/** The KPIs a diff touches, given the KPI definitions before and after. */
export function planReview(report: DiffReport, before: KpiDefinitions, after: KpiDefinitions): PlanReview {
  const impacts = new Map<string, KpiImpact>();
  const b = definitionsById(before);
  const a = definitionsById(after);
  const touch = (d: Definition, reason: string, breaking: boolean): void => {
    const impact = impacts.get(d.id) ?? { id: d.id, kind: d.kind, title: d.title, reasons: [], breaking: false };
    if (!impact.reasons.includes(reason)) impact.reasons.push(reason);
    impact.breaking ||= breaking;
    impacts.set(d.id, impact);
  };
  // A KPI uses an event if it does before or after the change (a removed event drops out of "after").
  const users = [kpisByEvent(before), kpisByEvent(after)];
  // One reason per changed event: a breaking change of it says all a lesser one would.
  const changed = new Map<string, boolean>();
  for (const change of report.changes) {
    const event = eventOf(change);
    if (event) changed.set(event, (changed.get(event) ?? false) || change.level === 'breaking');
  }
  for (const [event, breaking] of changed) {
    const ids = new Set(users.flatMap((u) => u.get(event) ?? []));
    for (const id of ids) {
      const d = a.get(id) ?? b.get(id);
      if (d) touch(d, `event \`${event}\` ${breaking ? 'changes (breaking)' : 'changes'}`, breaking);
    }
  }
  for (const [id, d] of a) {
    const old = b.get(id);
    if (!old) touch(d, 'definition added', false);
    else if (content(old) !== content(d)) touch(d, 'definition changed', false);
  }
  for (const [id, d] of b) if (!a.has(id)) touch(d, 'definition removed', true);
  return { report, impacts: [...impacts.values()].sort((x, y) => Number(y.breaking) - Number(x.breaking) || x.id.localeCompare(y.id)) };
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** The pull-request comment: verdict first, then changes, then the KPIs and dashboards touched. */
export function renderReviewMarkdown({ report, impacts }: PlanReview): string {
  const verdict = report.ok ? '✅' : '❌';
  const lines: string[] = [
    `### ${verdict} Tracking plan ${report.from} → ${report.to}`,
    '',
    `**${report.breaking ? 'Breaking' : 'Not breaking'}.** Required bump: **${report.requiredBump}**; this change is ${report.actualBump === 'none' ? 'no bump' : `a **${report.actualBump}** bump`}. ${report.ok ? 'The version matches the changes.' : `The version does not match: ${cell(report.summary)}.`}`,
    '',
  ];
  if (report.changes.length === 0) lines.push('No change to the events, properties or traits.', '');
  else {
    lines.push('| | Where | Change | Bump |', '|---|---|---|---|');
    for (const c of [...report.changes].sort((x, y) => Number(y.level === 'breaking') - Number(x.level === 'breaking'))) {
      lines.push(`| ${c.level === 'breaking' ? '⚠️ breaking' : 'non-breaking'} | \`${cell(c.target)}\` | ${cell(c.message)} | ${c.bump} |`);
    }
    lines.push('');
  }
  lines.push('#### KPIs and dashboards touched', '');
  if (impacts.length === 0) lines.push('None: no KPI or funnel uses a changed event, and kpis/*.yaml is unchanged.', '');
  else {
    lines.push('| KPI | Why | Shown on |', '|---|---|---|');
    for (const i of impacts) {
      const shown = i.kind === 'metric' ? 'built-in dashboard (KPIs tile), Metabase "Balise KPIs"' : 'built-in dashboard (Funnels), Metabase "Balise KPIs"';
      lines.push(`| ${i.breaking ? '⚠️ ' : ''}\`${i.id}\` (${i.kind}: ${cell(i.title)}) | ${cell(i.reasons.join('; '))} | ${shown} |`);
    }
    lines.push('');
  }
  lines.push('<sub>Generated by `balise plan diff --format markdown`.</sub>', '');
  return lines.join('\n');
}
