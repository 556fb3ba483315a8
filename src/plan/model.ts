/**
 * The tracking plan as loaded from tracking-plan/*.yaml. Pure data: the plan module's other
 * files (load, compile, lint, diff, codegen, docs, views) all work on this shape.
 */
import type { JsonObject, NormalizedEvent, PlanVerdict } from '../types.ts';

export type EnforcementMode = 'enforce' | 'warn';
/** Track events the plan does not list: stored as "unplanned", stored and flagged, or quarantined (decision 0026). */
export type UnplannedPolicy = 'allow' | 'warn' | 'quarantine';
/**
 * Properties a planned event sends that its schema does not declare: stored silently, stored and
 * flagged, removed before storing (flagged too), or the whole event quarantined (decision 0026).
 */
export type PropertyPolicy = 'allow' | 'warn' | 'strip' | 'quarantine';
export const PROPERTY_POLICIES: readonly PropertyPolicy[] = ['allow', 'warn', 'strip', 'quarantine'];
export const UNPLANNED_POLICIES: readonly UnplannedPolicy[] = ['allow', 'warn', 'quarantine'];

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
  /** Overrides the plan's `defaults.undeclared` when set. */
  undeclared?: PropertyPolicy;
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
  /** `undeclared` is absent from plans published before it existed: read as 'allow'. */
  defaults: { mode: EnforcementMode; unplanned: UnplannedPolicy; undeclared?: PropertyPolicy };
  /** `timezone:` of plan.yaml: the project time zone (IANA) of every period boundary; absent means UTC (decision 0038). */
  timezone?: string;
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

/**
 * Properties the Segment spec gives every page or screen call, never undeclared: analytics.js
 * copies the page's path, referrer, search, title and url into a page's properties, and
 * normalize copies the call's `name` and `category` there. A plan may still declare them, to
 * check their values. The SDK's dev validator keeps the same list (sdk/src/dev.ts).
 */
export const SPEC_PROPERTIES: Readonly<Record<PlanEvent['kind'], readonly string[]>> = {
  track: [],
  page: ['name', 'category', 'path', 'referrer', 'search', 'title', 'url', 'keywords'],
  screen: ['name', 'category'],
};

/** The policy for undeclared properties that applies to one event of a plan. */
export function undeclaredPolicy(plan: TrackingPlan, event: PlanEvent): PropertyPolicy {
  return event.undeclared ?? plan.defaults.undeclared ?? 'allow';
}

/** The plan's privacy policy (`privacy:` of plan.yaml; src/plan/pii.ts says what it means). */
export const PII_ACTIONS = ['keep', 'hash', 'drop'] as const;
export type PiiAction = (typeof PII_ACTIONS)[number];
export const IP_ACTIONS = ['keep', 'truncate', 'drop'] as const;
export type IpAction = (typeof IP_ACTIONS)[number];
export const USER_AGENT_ACTIONS = ['keep', 'drop'] as const;
export type UserAgentAction = (typeof USER_AGENT_ACTIONS)[number];

export interface PrivacyPolicy {
  /** The action of a `pii: true` property without its own `pii_action`. */
  piiAction: PiiAction;
  ip: IpAction;
  userAgent: UserAgentAction;
}

/** What a plan without a `privacy:` section (or a version published before it existed) means: nothing changes. */
export const DEFAULT_PRIVACY: Readonly<PrivacyPolicy> = { piiAction: 'hash', ip: 'keep', userAgent: 'keep' };

/** One lint finding, at file:line. Shared by the plan, alerts.yaml and the KPI lint (src/analytics/definitions.ts). */
export type LintMessage = {
  file: string;
  line: number;
  rule: string;
  message: string;
  severity: 'error' | 'warning';
};

export interface LoadResult {
  plan: TrackingPlan;
  /** Structural problems found while loading (errors mean `plan` is incomplete). */
  messages: LintMessage[];
}

export interface PlanVersions {
  /** The current plan: plan.yaml when present, else the highest published version. */
  latest: TrackingPlan;
  /** Every version, oldest first; the latest one included. */
  versions: TrackingPlan[];
  /** Set when plan.yaml's version is published with other content: the edited files judge events that declare it. */
  unpublishedEdits?: string;
}

/** What the ingest needs from the tracking plan: compiled once, then called per event. */
export interface PlanValidator {
  /** The current plan (plan.yaml, else the newest published version), as loaded. */
  readonly plan: TrackingPlan;
  readonly latestVersion: string;
  readonly versions: readonly string[];
  /** PlanVersions.unpublishedEdits: said at start and on every reload. */
  readonly unpublishedEdits?: string;
  /**
   * The verdict on an event. Violations at `unjudged` JSON pointers (or below them) are left
   * out: replay passes the values privacy rules replaced, which the plan judged at ingest.
   */
  validate(event: NormalizedEvent, unjudged?: readonly string[]): PlanVerdict;
}
