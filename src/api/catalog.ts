/** The plan's events and properties as the Explore page's pickers need them: only real names. */
import type { TrackingPlan } from '../plan/model.ts';

export interface CatalogProperty {
  name: string;
  /** The JSON Schema type ('string', 'number', 'integer', 'boolean', …), '' when untyped. */
  type: string;
  enum?: (string | number | boolean)[];
}

export interface CatalogEvent {
  name: string;
  description: string;
  status: 'active' | 'deprecated';
  properties: CatalogProperty[];
}

export interface PlanCatalog {
  planVersion: string;
  /** Track events only: trends and funnels are built on them. */
  events: CatalogEvent[];
}

function typeOf(schema: Record<string, unknown>): string {
  const t = schema.type;
  if (typeof t === 'string') return t;
  if (Array.isArray(t))
    return t
      .filter((x) => x !== 'null')
      .map(String)
      .join('|');
  return '';
}

export function planCatalog(plan: TrackingPlan, planVersion: string): PlanCatalog {
  return {
    planVersion,
    events: plan.events
      .filter((e) => e.kind === 'track')
      .map((e) => ({
        name: e.name,
        description: e.description,
        status: e.status,
        properties: Object.entries(e.properties)
          .map(([name, schema]) => {
            const values = Array.isArray(schema.enum) ? schema.enum.filter((v): v is string | number | boolean => v !== null && typeof v !== 'object') : undefined;
            return { name, type: typeOf(schema), ...(values ? { enum: values } : {}) };
          })
          .sort((a, b) => a.name.localeCompare(b.name)),
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}
