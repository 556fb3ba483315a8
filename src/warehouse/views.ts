/** Creates (or replaces) the plan's typed per-event views in the warehouse. */
import type { TrackingPlan } from '../plan/model.ts';
import { views } from '../plan/views.ts';
import type { Warehouse } from './client.ts';

/** Applies every `ev_*` view of `plan`; returns their names. Idempotent (CREATE OR REPLACE). */
export async function applyViews(warehouse: Warehouse, plan: TrackingPlan): Promise<string[]> {
  const defs = views(plan, warehouse.cluster ? { cluster: warehouse.cluster } : {});
  for (const v of defs) await warehouse.client.command({ query: v.sql });
  return defs.map((v) => v.name);
}
