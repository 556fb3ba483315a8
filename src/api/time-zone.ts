/**
 * The project time zone of a request (decision 0038): the request's own `tz` (the CLI's --tz),
 * else BALISE_TIMEZONE, else plan.yaml's `timezone:`, else UTC. The name is checked where a
 * range is resolved, so an unknown one is refused with `invalid_time_zone`.
 */
import type { Config } from '../config/index.ts';
import type { TrackingPlan } from '../plan/model.ts';
import { DEFAULT_TIME_ZONE } from '../util/zone.ts';

export function projectTimeZone(config: Pick<Config, 'timeZone'>, plan: Pick<TrackingPlan, 'timezone'>): string {
  return config.timeZone ?? plan.timezone ?? DEFAULT_TIME_ZONE;
}

export function requestTimeZone(requested: unknown, config: Pick<Config, 'timeZone'>, plan: Pick<TrackingPlan, 'timezone'>): string {
  if (requested === undefined || requested === '') return projectTimeZone(config, plan);
  // Anything but one name (?tz=a&tz=b) is passed on as text, to be refused as no zone at all.
  return typeof requested === 'string' ? requested : JSON.stringify(requested);
}
