/**
 * Dev-mode validation: checks each event against the compiled plan before it is queued and logs
 * console warnings. Imported only from `@balise/sdk/dev`, so production bundles never ship ajv.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { WireEvent } from './types.ts';

type Schema = Record<string, unknown>;

/**
 * Either the plan as compiled by `balise plan build` (an events array with name, kind,
 * properties and required) or a map from event name to the JSON Schema of its properties.
 */
export interface CompiledPlanJson {
  version?: string;
  /** The plan's policy for properties an event does not declare (allow when absent); its other defaults (mode, unplanned) are the server's. */
  defaults?: { undeclared?: string; [other: string]: unknown };
  events: Array<{ name: string; kind?: string; properties?: Schema; required?: string[]; undeclared?: string }> | Record<string, Schema>;
  traits?: { properties?: Schema; required?: string[] };
}

/** What `balise plan build` writes to tracking-plan/build/plan-<version>.json. */
export interface BuiltPlanFile {
  format: string;
  plan: CompiledPlanJson;
}

export interface DevValidatorOptions {
  /** Where warnings go (default console.warn). */
  warn?: (message: string) => void;
  /** Warn about track() names that the plan does not list (default true). */
  unplanned?: boolean;
}

/**
 * The properties the Segment spec gives page and screen calls: the server never counts them as
 * undeclared (SPEC_PROPERTIES in src/plan/model.ts; a test runs both with every name of that list).
 */
const SPEC_PROPERTIES: Readonly<Record<'page' | 'screen', readonly string[]>> = {
  page: ['name', 'category', 'path', 'referrer', 'search', 'title', 'url', 'keywords'],
  screen: ['name', 'category'],
};

/**
 * Accepts the file `balise plan build` writes (`{ format, plan }`, import it as JSON) as well as
 * the plan inside it or a name → schema map.
 */
export function createDevValidator(input: CompiledPlanJson | BuiltPlanFile, options: DevValidatorOptions = {}): (event: WireEvent) => void {
  const plan: CompiledPlanJson = 'format' in input && typeof input.plan === 'object' && input.plan !== null ? input.plan : (input as CompiledPlanJson);
  const warn = options.warn ?? ((m: string) => console.warn('[balise dev]', m));
  // The server's options (src/plan/compile.ts newAjv): the same verdicts.
  const ajv = new Ajv({ allErrors: true, strict: false, ownProperties: true, multipleOfPrecision: 9 });
  addFormats.default(ajv);
  // Keyed by kind and name (a page and a track event may share a name); a name → schema map applies to every kind.
  const byName = new Map<string, ValidateFunction>();
  const list = Array.isArray(plan.events)
    ? plan.events.map((e) => [`${e.kind ?? 'track'}:${e.name}`, { type: 'object', properties: e.properties ?? {}, required: e.required ?? [] }] as const)
    : Object.entries(plan.events).map(([name, schema]) => [`*:${name}`, schema] as const);
  for (const [key, schema] of list) byName.set(key, ajv.compile(schema));
  // Properties the plan does not declare, for events whose policy is not `allow`: the server
  // would flag, strip or quarantine them (decision 0026), so say so before it does.
  const strict = new Map<string, { declared: Schema; policy: string }>();
  if (Array.isArray(plan.events)) {
    for (const e of plan.events) {
      const policy = e.undeclared ?? plan.defaults?.undeclared ?? 'allow';
      if (policy !== 'allow') strict.set(`${e.kind ?? 'track'}:${e.name}`, { declared: e.properties ?? {}, policy });
    }
  }
  const traits = plan.traits ? ajv.compile({ type: 'object', properties: plan.traits.properties ?? {}, required: [] }) : null;
  const where = plan.version ? ` (plan ${plan.version})` : '';

  return (event) => {
    let fn: ValidateFunction | null | undefined;
    let label: string;
    let data: unknown;
    if (event.type === 'identify') {
      ((fn = traits), (label = 'identify traits'), (data = event.traits ?? {}));
    } else if (event.type === 'track' || event.type === 'page' || event.type === 'screen') {
      label = `${event.type} "${event.event ?? event.name ?? ''}"`;
      const name = event.event ?? event.name ?? '';
      fn = byName.get(`${event.type}:${name}`) ?? byName.get(`*:${name}`);
      data = event.properties ?? {};
      if (!fn) {
        if (event.type === 'track' && options.unplanned !== false) warn(`${label} is not in the tracking plan${where}`);
        return;
      }
    } else return;
    const rule = strict.get(`${event.type}:${event.event ?? event.name ?? ''}`);
    if (rule && event.type !== 'identify') {
      const spec = SPEC_PROPERTIES[event.type as keyof typeof SPEC_PROPERTIES] ?? [];
      for (const key of Object.keys(event.properties ?? {})) {
        if (!Object.hasOwn(rule.declared, key) && !spec.includes(key)) warn(`${label}${where}: property "${key}" is not declared (the plan's policy: ${rule.policy})`);
      }
    }
    if (fn && !fn(data)) {
      for (const e of fn.errors ?? []) {
        const at = e.instancePath ? e.instancePath.slice(1).replaceAll('/', '.') : 'properties';
        warn(`${label}${where}: ${at} ${e.message ?? 'is invalid'}${e.keyword === 'required' ? ` (${String(e.params.missingProperty)})` : ''}`);
      }
    }
  };
}
