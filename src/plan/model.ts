/**
 * The tracking plan as loaded from tracking-plan/*.yaml. Pure data: the plan module's other
 * files (load, compile, lint, diff, codegen, docs, views) all work on this shape.
 */
import type { JsonObject } from '../types.ts';
import type { PrivacyPolicy } from './pii.ts';

export type EnforcementMode = 'enforce' | 'warn';
export type UnplannedPolicy = 'allow' | 'quarantine';

/** A JSON Schema fragment for one property (type, enum, format, pattern, minimum, ...). */
export type PropertySchema = JsonObject;

export interface PlanEvent {
  /** snake_case event name as sent in `track(name)`, or the page/screen name. */
  name: string;
  kind: 'track' | 'page' | 'screen';
  description: string;
  owner: string;
  status: 'active' | 'deprecated';
  /** Overrides the plan default when set. */
  mode?: EnforcementMode;
  properties: Record<string, PropertySchema>;
  required: string[];
  /** Ids of the KPIs and funnels that use this event. */
  kpis: string[];
  /** Where it was defined, for file:line messages. */
  file: string;
  /** Line numbers in `file` by JSON pointer ('' = the document, '/properties/x' = a property), for lint messages. */
  lines?: Record<string, number>;
}

export interface TrackingPlan {
  name: string;
  /** Semver, e.g. "1.2.0". */
  version: string;
  description: string;
  sources: string[];
  defaults: { mode: EnforcementMode; unplanned: UnplannedPolicy };
  /** `privacy:` of plan.yaml (PII default action, IP, user agent); absent means DEFAULT_PRIVACY. */
  privacy?: PrivacyPolicy;
  events: PlanEvent[];
  /** Planned identify traits (optional). */
  traits: { properties: Record<string, PropertySchema>; required: string[]; file?: string; lines?: Record<string, number> };
  /** The plan file (plan.yaml) it was loaded from; absent for compiled artifacts. */
  file?: string;
  /** Line numbers in `file` by JSON pointer, for lint messages. */
  lines?: Record<string, number>;
}

/** How an event is identified across the plan, its versions and its validators: kind plus name. */
export function eventKey(kind: string, name: string): string {
  return `${kind}:${name}`;
}
