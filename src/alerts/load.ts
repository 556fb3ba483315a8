/**
 * Reads tracking-plan/alerts.yaml (optional) into AlertsConfig, and lints it for `plan check`:
 * the file's JSON Schema, then its references (a KPI that exists, a planned event).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { LineCounter, parseDocument } from 'yaml';
import { parseDuration } from '../analytics/kpi-parse.ts';
import type { KpiDefinitions } from '../analytics/model.ts';
import { BaliseError } from '../errors.ts';
import { ALERTS_FILE_SCHEMA } from '../plan/file-schemas.ts';
import { lineAt, yamlErrorMessage } from '../plan/yaml.ts';
import type { LintMessage, TrackingPlan } from '../plan/model.ts';
import type { AlertRule, AlertsConfig, Webhook } from './model.ts';

export const ALERTS_FILE = 'alerts.yaml';
const DEFAULT_EVERY_MS = 60_000;
/** In the order of the oneOf branches of ALERTS_FILE_SCHEMA. */
const ALERT_TYPES = ['kpi', 'event_silent', 'violation_rate', 'freshness', 'dead_letter'];

type Raw = Record<string, unknown>;

function toRule(raw: Raw): AlertRule {
  const id = String(raw.id);
  const ms = (v: unknown): number => parseDuration(v) ?? 0;
  switch (raw.type) {
    case 'kpi': {
      const rule: AlertRule = { kind: 'kpi', id, kpi: String(raw.kpi) };
      if (typeof raw.below === 'number') rule.below = raw.below;
      if (typeof raw.above === 'number') rule.above = raw.above;
      if (typeof raw.change_pct === 'number') rule.changePct = raw.change_pct;
      return rule;
    }
    case 'event_silent':
      return { kind: 'event_silent', id, event: String(raw.event), forMs: ms(raw.for) };
    case 'violation_rate':
      return { kind: 'violation_rate', id, above: Number(raw.above), windowMs: raw.window === undefined ? 3_600_000 : ms(raw.window) };
    case 'freshness':
      return { kind: 'freshness', id, aboveMs: ms(raw.above) };
    default:
      return { kind: 'dead_letter', id };
  }
}

export interface ParsedAlerts {
  config: AlertsConfig | undefined;
  messages: LintMessage[];
}

/** Parses and lints alerts.yaml against the plan and the KPI definitions. No file: no alerts, no messages. */
export async function readAlerts(planDir: string, plan?: TrackingPlan, kpis?: KpiDefinitions): Promise<ParsedAlerts> {
  const text = await fs.readFile(path.join(planDir, ALERTS_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) return { config: undefined, messages: [] };
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const messages: LintMessage[] = [];
  const error = (line: number, rule: string, message: string): void => void messages.push({ file: ALERTS_FILE, line, rule, message, severity: 'error' });
  if (doc.errors.length > 0) {
    error(lineCounter.linePos(doc.errors[0]!.pos[0]).line, 'yaml_syntax', yamlErrorMessage(doc.errors[0]!));
    return { config: undefined, messages };
  }
  const data = doc.toJS() as unknown;
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  const validate = ajv.compile(ALERTS_FILE_SCHEMA);
  if (!validate(data)) {
    // oneOf reports every branch: keep the errors of the branch the item's `type` names.
    const items = (data as { alerts?: unknown }).alerts;
    const branchOf = (instancePath: string): number | undefined => {
      const m = /^\/alerts\/(\d+)/.exec(instancePath);
      const item = m && Array.isArray(items) ? (items[Number(m[1])] as Raw | undefined) : undefined;
      const index = ALERT_TYPES.indexOf(String(item?.type));
      return index >= 0 ? index : undefined;
    };
    const seen = new Set<string>();
    for (const e of validate.errors ?? []) {
      const branch = /\/oneOf\/(\d+)\//.exec(e.schemaPath);
      const wanted = branchOf(e.instancePath);
      if (branch && wanted !== undefined && Number(branch[1]) !== wanted) continue;
      if (e.keyword === 'oneOf' && wanted !== undefined) continue;
      if (e.keyword === 'const') continue;
      if (e.keyword === 'oneOf') e.message = `type must be one of ${ALERT_TYPES.join(', ')}`;
      const key = `${e.instancePath} ${e.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const extra = e.keyword === 'additionalProperties' ? ` (unknown key "${String(e.params.additionalProperty)}")` : '';
      error(lineAt({ doc, lineCounter }, e.instancePath), 'alerts_schema', `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${extra}`);
    }
    return { config: undefined, messages };
  }
  const raw = data as { every?: string; webhooks?: Raw[]; alerts: Raw[] };
  const rules = raw.alerts.map(toRule);
  const ids = new Set<string>();
  rules.forEach((rule, i) => {
    const line = lineAt({ doc, lineCounter }, `/alerts/${i}`);
    if (ids.has(rule.id)) error(line, 'alert_duplicate_id', `alert "${rule.id}" is defined twice`);
    ids.add(rule.id);
    if (rule.kind === 'kpi') {
      if (rule.below === undefined && rule.above === undefined && rule.changePct === undefined) error(line, 'alert_condition', `alert "${rule.id}": give below, above or change_pct`);
      if (kpis && !kpis.metrics.some((m) => m.id === rule.kpi)) error(line, 'alert_unknown_kpi', `alert "${rule.id}": no metric "${rule.kpi}" in kpis/*.yaml`);
    }
    if (rule.kind === 'event_silent' && plan && !plan.events.some((e) => e.name === rule.event))
      error(line, 'alert_unplanned_event', `alert "${rule.id}": event "${rule.event}" is not in the tracking plan`);
  });
  const webhooks: Webhook[] = (raw.webhooks ?? []).map((w) => ({ url: String(w.url), format: w.format === 'slack' ? 'slack' : 'json' }));
  return { config: { everyMs: parseDuration(raw.every) ?? DEFAULT_EVERY_MS, webhooks, rules }, messages };
}

/** The file's problems in one line: "line 3 …; line 9 …". */
export const alertsProblems = (messages: readonly LintMessage[]): string => messages.map((m) => `line ${m.line} ${m.message}`).join('; ');

/** The alerts to run; throws (code alerts_invalid) when the file has errors, so a bad file never half-runs. */
export async function loadAlerts(planDir: string, plan?: TrackingPlan, kpis?: KpiDefinitions): Promise<AlertsConfig | undefined> {
  const { config, messages } = await readAlerts(planDir, plan, kpis);
  if (messages.length > 0) throw new BaliseError('alerts_invalid', `${ALERTS_FILE} is invalid: ${alertsProblems(messages)}`);
  return config;
}
