/**
 * JSON Schemas for the plan's own YAML files. The loader validates every file against them,
 * and `balise plan build` writes them to tracking-plan/schema/ so editors validate as you type
 * (`# yaml-language-server: $schema=...`). Kept in code so the loader never depends on the
 * copies in a user's plan directory.
 */
import type { JsonObject } from '../types.ts';
import { IP_ACTIONS, PII_ACTIONS, USER_AGENT_ACTIONS } from './pii.ts';

/** A snake_case name (no leading, trailing or double underscore), unanchored, to build patterns from. */
export const SNAKE_NAME = '[a-z][a-z0-9]*(_[a-z0-9]+)*';
/** snake_case names: events, properties, sources, KPI ids. */
export const SNAKE = `^${SNAKE_NAME}$`;
const SEMVER = '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)$';

const jsonType: JsonObject = { enum: ['string', 'number', 'integer', 'boolean', 'array', 'object', 'null'] };

const piiAction: JsonObject = { enum: [...PII_ACTIONS] };

/** A property's JSON Schema: the subset of keywords the plan supports, so typos are caught. */
const propertySchema: JsonObject = {
  type: 'object',
  additionalProperties: false,
  properties: {
    type: { oneOf: [jsonType, { type: 'array', items: jsonType, minItems: 1, uniqueItems: true }] },
    description: { type: 'string' },
    enum: { type: 'array', minItems: 1, uniqueItems: true },
    const: {},
    format: { enum: ['date', 'date-time', 'time', 'email', 'uri', 'uuid', 'hostname', 'ipv4', 'ipv6'] },
    pattern: { type: 'string', format: 'regex' },
    minimum: { type: 'number' },
    maximum: { type: 'number' },
    exclusiveMinimum: { type: 'number' },
    exclusiveMaximum: { type: 'number' },
    multipleOf: { type: 'number', exclusiveMinimum: 0 },
    minLength: { type: 'integer', minimum: 0 },
    maxLength: { type: 'integer', minimum: 0 },
    minItems: { type: 'integer', minimum: 0 },
    maxItems: { type: 'integer', minimum: 0 },
    uniqueItems: { type: 'boolean' },
    items: { $ref: '#/$defs/property' },
    properties: { type: 'object', additionalProperties: { $ref: '#/$defs/property' } },
    required: { type: 'array', items: { type: 'string' }, uniqueItems: true },
    additionalProperties: { type: 'boolean' },
    examples: { type: 'array' },
    deprecated: { type: 'boolean' },
    pii: { type: 'boolean', description: 'Personal data: handled at ingest by pii_action (else privacy.pii_action of plan.yaml).' },
    pii_action: {
      description: 'keep, hash (keyed HMAC: equal values still join) or drop, for every source, or per source: {default: hash, backend: keep}.',
      oneOf: [piiAction, { type: 'object', minProperties: 1, additionalProperties: piiAction }],
    },
  },
};

const propertiesMap: JsonObject = {
  type: 'object',
  propertyNames: { pattern: SNAKE },
  additionalProperties: { $ref: '#/$defs/property' },
};

export const PLAN_FILE_SCHEMA: JsonObject = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://balise.dev/schema/plan.schema.json',
  title: 'Balise tracking plan (plan.yaml)',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'version', 'description', 'defaults'],
  properties: {
    name: { type: 'string', minLength: 1, description: 'Name of the product this plan describes.' },
    version: { type: 'string', pattern: SEMVER, description: 'Semver. Breaking changes need a major bump (`balise plan diff`).' },
    description: { type: 'string', minLength: 1 },
    sources: { type: 'array', items: { type: 'string', pattern: SNAKE }, uniqueItems: true, description: 'Write-key sources expected to send these events.' },
    timezone: {
      type: 'string',
      minLength: 1,
      description: 'IANA time zone (e.g. Europe/Paris) whose days, weeks and months cut every period: ranges, buckets, cohorts. Default UTC; BALISE_TIMEZONE overrides it.',
    },
    defaults: {
      type: 'object',
      additionalProperties: false,
      required: ['mode', 'unplanned'],
      properties: {
        mode: { enum: ['enforce', 'warn'], description: 'enforce: invalid events go to quarantine; warn: stored with their violations.' },
        unplanned: {
          enum: ['allow', 'warn', 'quarantine'],
          description: 'Track events the plan does not list. allow: stored as unplanned; warn: stored and flagged in data health; quarantine: kept aside, replayable.',
        },
        undeclared: {
          enum: ['allow', 'warn', 'strip', 'quarantine'],
          description:
            'Properties a planned event sends that it does not declare (default allow). warn: stored and flagged; strip: removed before storing, flagged; quarantine: the event is kept aside.',
        },
      },
    },
    privacy: {
      type: 'object',
      additionalProperties: false,
      description: 'Personal data at ingest, applied before anything is queued.',
      properties: {
        pii_action: { ...piiAction, description: 'Action of a pii: true property without its own pii_action (default hash).' },
        ip: { enum: [...IP_ACTIONS], description: 'context.ip: keep, truncate (IPv4 /24, IPv6 /48) or drop (default keep).' },
        user_agent: { enum: [...USER_AGENT_ACTIONS], description: 'context.userAgent (and userAgentData): keep or drop (default keep).' },
      },
    },
  },
};

export const EVENT_FILE_SCHEMA: JsonObject = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://balise.dev/schema/event.schema.json',
  title: 'Balise tracking plan event (events/<name>.yaml)',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'kind', 'description', 'owner', 'status'],
  properties: {
    name: { type: 'string', pattern: SNAKE, description: 'snake_case, as sent in track(name) or page(name).' },
    kind: { enum: ['track', 'page', 'screen'] },
    description: { type: 'string', minLength: 1 },
    owner: { type: 'string', minLength: 1, description: 'Team or person accountable for this event.' },
    status: { enum: ['active', 'deprecated'] },
    mode: { enum: ['enforce', 'warn'], description: 'Overrides defaults.mode of plan.yaml for this event.' },
    undeclared: { enum: ['allow', 'warn', 'strip', 'quarantine'], description: 'Overrides defaults.undeclared of plan.yaml for this event: what to do with properties it does not declare.' },
    properties: propertiesMap,
    required: { type: 'array', items: { type: 'string' }, uniqueItems: true },
    kpis: { type: 'array', items: { type: 'string', pattern: SNAKE }, uniqueItems: true, description: 'KPIs and funnels (tracking-plan/kpis/) that use this event.' },
  },
  $defs: { property: propertySchema },
};

export const TRAITS_FILE_SCHEMA: JsonObject = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://balise.dev/schema/traits.schema.json',
  title: 'Balise tracking plan identify traits (traits.yaml)',
  type: 'object',
  additionalProperties: false,
  properties: {
    properties: propertiesMap,
    required: { type: 'array', items: { type: 'string' }, uniqueItems: true },
  },
  $defs: { property: propertySchema },
};

const DURATION = '^[1-9][0-9]*(s|m|h|d|w)$';
const alertBase = (type: string, extra: Record<string, JsonObject>, required: string[]): JsonObject => ({
  type: 'object',
  additionalProperties: false,
  required: ['id', 'type', ...required],
  properties: { id: { type: 'string', pattern: SNAKE }, type: { const: type }, description: { type: 'string' }, ...extra },
});

/** tracking-plan/alerts.yaml: alerts as code, evaluated on a schedule by one Balise process (src/alerts). */
export const ALERTS_FILE_SCHEMA: JsonObject = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://balise.dev/schema/alerts.schema.json',
  title: 'Balise alerts (alerts.yaml)',
  type: 'object',
  additionalProperties: false,
  required: ['alerts'],
  properties: {
    every: { type: 'string', pattern: DURATION, description: 'How often the alerts are evaluated (default 1m).' },
    webhooks: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: { type: 'string', format: 'uri', pattern: '^https?://' },
          format: { enum: ['json', 'slack'], description: 'json (default): Balise\'s body; slack: {"text": ...} for Slack-compatible incoming webhooks.' },
        },
      },
    },
    alerts: {
      type: 'array',
      items: {
        oneOf: [
          alertBase(
            'kpi',
            {
              kpi: { type: 'string', pattern: SNAKE },
              below: { type: 'number' },
              above: { type: 'number' },
              change_pct: { type: 'number', exclusiveMinimum: 0, description: 'Fires when the KPI moves by more than this many percent versus the previous period.' },
            },
            ['kpi'],
          ),
          alertBase('event_silent', { event: { type: 'string', pattern: SNAKE }, for: { type: 'string', pattern: DURATION } }, ['event', 'for']),
          alertBase('violation_rate', { above: { type: 'number', minimum: 0, maximum: 1 }, window: { type: 'string', pattern: DURATION } }, ['above']),
          alertBase('freshness', { above: { type: 'string', pattern: DURATION, description: 'Fires when the newest stored event arrived longer ago than this.' } }, ['above']),
          alertBase('dead_letter', {}, []),
        ],
      },
    },
  },
};

export const FILE_SCHEMAS: Readonly<Record<string, JsonObject>> = {
  'plan.schema.json': PLAN_FILE_SCHEMA,
  'event.schema.json': EVENT_FILE_SCHEMA,
  'traits.schema.json': TRAITS_FILE_SCHEMA,
  'alerts.schema.json': ALERTS_FILE_SCHEMA,
};
