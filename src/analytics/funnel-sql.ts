/**
 * Compiles a funnel definition to one ClickHouse query.
 *
 * Semantics (documented in README "Funnels"):
 * - An entity (a stitched person, or a property value such as mission_id) enters at its first
 *   step-1 event inside [from, to). The cohort is the week or month of that entry.
 * - strict order: step k is reached at the earliest step-k event strictly after step k-1 was
 *   reached and no later than entry + window (inclusive). A per-step `within` also bounds the
 *   gap to some step k-1 occurrence.
 * - any order: step 1 comes first; step k counts once every step 2..k happened at or after
 *   entry and within the window, in whatever order.
 * - exclusions void a step when the excluded event happens strictly between the moment the step
 *   is measured from (strict: the previous step reached; any order: the entry) and the step.
 * - optional steps (never the first or the last): counted when they happen, skippable. Each
 *   later step is measured from its anchor, the last required step before it; an optional step
 *   counts only before the next required step is reached. See decision 0036.
 * Per entity, step timestamps are gathered into sorted arrays and matched with array
 * functions: duplicates (same message_id twice) change no result, because a repeated
 * timestamp never changes a minimum or an existence test. A late resend carries another
 * (corrected) timestamp, so `events FINAL` folds it to the first copy first.
 */
import type { Attribution, BreakdownSpec, FunnelDefinition } from './model.ts';
import { eventCondition, ident, IDENTITY_JOIN, keyLiteral, Params, PERSON, propertyText, chDateTime, zoneParam, type CompiledQuery, type TimeRange } from './sql-common.ts';

export interface FunnelQueryOptions extends TimeRange {
  /** What to break down by (identifiers are checked again when spliced in). */
  breakdown?: BreakdownSpec | undefined;
  /** Whose value counts: the entry event's (default) or the last reached step's. */
  attribution?: Attribution | undefined;
  /**
   * Instead of the aggregates, list the entities whose last reached step is this one (1-based):
   * columns entity, t0 (entry, epoch ms), earliest entries first, at most `limit` rows.
   */
  entitiesAtLevel?: number | undefined;
  limit?: number | undefined;
}

/**
 * (person, trait) for every stitched person: the trait's value in their latest identify that
 * carries it, or (group) in the latest group call of the group they last joined.
 */
function traitTable(spec: BreakdownSpec): string {
  const key = keyLiteral(spec.property);
  if (spec.source === 'person') {
    return [
      `(SELECT ${PERSON} AS person, argMax(${propertyText('e.traits', key)}, e.timestamp) AS trait`,
      `    FROM events AS e FINAL`,
      `    ${IDENTITY_JOIN}`,
      `    WHERE e.type = 'identify' AND JSONHas(e.traits, ${key})`,
      `    GROUP BY person)`,
    ].join('\n');
  }
  return [
    `(SELECT pg.person AS person, gt.trait AS trait`,
    `    FROM (SELECT ${PERSON} AS person, argMax(e.group_id, e.timestamp) AS group_id`,
    `      FROM events AS e FINAL`,
    `      ${IDENTITY_JOIN}`,
    `      WHERE e.type = 'group' AND e.group_id != ''`,
    `      GROUP BY person) AS pg`,
    `    INNER JOIN (SELECT e.group_id AS group_id, argMax(${propertyText('e.traits', key)}, e.timestamp) AS trait`,
    `      FROM events AS e FINAL`,
    `      WHERE e.type = 'group' AND JSONHas(e.traits, ${key})`,
    `      GROUP BY group_id) AS gt ON gt.group_id = pg.group_id)`,
  ].join('\n');
}

/** Dimension labels of the result rows: one 'total' row, then per breakdown value and per cohort. */
export type FunnelDimension = 'total' | 'breakdown' | 'cohort';

/**
 * Result columns: dim, value, entered, reached_2..reached_n, median_ms_2..median_ms_n
 * (median time from reaching step k-1 to reaching step k, among entities that reached k), ttc
 * (quantiles 10/25/50/75/90 % of the time from entry to the last step, among converters).
 */
export function compileFunnel(def: FunnelDefinition, opts: FunnelQueryOptions): CompiledQuery {
  const params = new Params();
  const steps = def.steps;
  const n = steps.length;
  const from = params.set('from', "DateTime64(3, 'UTC')", chDateTime(opts.fromMs));
  const to = params.set('to', "DateTime64(3, 'UTC')", chDateTime(opts.toMs));
  const scanTo = params.set('scan_to', "DateTime64(3, 'UTC')", chDateTime(opts.toMs + def.windowMs));
  const window = params.set('window_ms', 'Int64', def.windowMs);
  const breakdown = opts.breakdown ? { ...opts.breakdown, property: ident(opts.breakdown.property) } : undefined;
  const byTrait = breakdown !== undefined && breakdown.source !== 'event';
  const lastTouch = breakdown?.source === 'event' && opts.attribution === 'last';
  // Traits belong to persons: an entity funnel (mission_id) takes those of whoever did its entry event.
  const needsPerson = def.entity.kind === 'person' || byTrait;

  const entity = def.entity.kind === 'person' ? PERSON : propertyText('e.properties', keyLiteral(def.entity.property));
  const conditions = steps.map((s) => eventCondition(s, params));
  const exclusions = steps.map((s) => (s.exclude.length ? s.exclude.map((x) => `(${eventCondition(x, params)})`).join(' OR ') : undefined));
  // The step each step is measured from: the last required one before it (0 = the entry).
  const anchorOf = (k: number): number => {
    let j = k - 1;
    while (j > 0 && steps[j]?.optional) j--;
    return j;
  };
  const hasOptional = steps.some((s, i) => i > 0 && s.optional);
  const events = [...new Set([...steps.map((s) => s.event), ...steps.flatMap((s) => s.exclude.map((x) => x.event))].map((e) => `'${ident(e)}'`))].join(', ');

  // Level 1: one row per event of interest, with the steps it matches.
  const scanColumns = [
    `${entity} AS entity`,
    `toUnixTimestamp64Milli(e.timestamp) AS ts`,
    `(e.timestamp >= ${from} AND e.timestamp < ${to}) AS in_period`,
    ...conditions.map((c, i) => `(${c}) AS c${i}`),
    ...exclusions.flatMap((x, i) => (x === undefined ? [] : [`(${x}) AS x${i}`])),
  ];
  if (breakdown?.source === 'event') scanColumns.push(`${propertyText('e.properties', keyLiteral(breakdown.property))} AS bd_value`);
  if (byTrait) scanColumns.push(`${PERSON} AS person`);
  const scan = [
    `SELECT ${scanColumns.join(',\n      ')}`,
    `    FROM events AS e FINAL${needsPerson ? `\n    ${IDENTITY_JOIN}` : ''}`,
    `    WHERE e.event IN (${events}) AND e.timestamp >= ${from} AND e.timestamp <= ${scanTo}`,
  ].join('\n');

  // Level 2: one row per entity: entry time and the sorted timestamps of every later step.
  const entityColumns = [`entity`, `minIf(ts, c0 AND in_period) AS t0`];
  for (let k = 1; k < n; k++) entityColumns.push(`arraySort(groupArrayIf(ts, c${k})) AS s${k}`);
  for (let k = 1; k < n; k++) if (exclusions[k] !== undefined) entityColumns.push(`groupArrayIf(ts, x${k}) AS e${k}`);
  // First touch: the value on the entry event itself (the one t0 is the time of), '' when it has none.
  if (breakdown?.source === 'event') entityColumns.push(`argMinIf(bd_value, ts, c0 AND in_period) AS bd0`);
  else if (byTrait) entityColumns.push(`argMinIf(person, ts, c0 AND in_period) AS bd_person`);
  else entityColumns.push(`'' AS bd0`);
  if (lastTouch) for (let k = 1; k < n; k++) entityColumns.push(`groupArrayIf((ts, bd_value), c${k}) AS v${k}`);
  const perEntity = [`SELECT ${entityColumns.join(', ')}`, `  FROM (\n    ${scan}\n  )`, `  WHERE entity != ''`, `  GROUP BY entity`, `  HAVING countIf(c0 AND in_period) > 0`].join('\n');

  // Level 3: the moment each step was reached (0 = never) and the level reached.
  const deadline = `t0 + ${window}`;
  const reached: string[] = [];
  const reachCols: string[] = [];
  // An optional step's time depends on the next required step's, so those columns come last.
  const optionalCols: string[] = [];
  for (let k = 1; k < n; k++) {
    const within = steps[k]?.withinMs;
    const withinParam = within !== undefined ? params.set(`within_ms_${k}`, 'Int64', within) : undefined;
    const anchor = anchorOf(k);
    // A step's event at the same millisecond as the previous step's counts as after it (back ends
    // often stamp two events alike), unless both steps are the same event: one occurrence must
    // not be two steps.
    const after = (j: number) => (steps[k]?.event === steps[j]?.event ? '>' : '>=');
    if (def.order === 'strict') {
      const prev = anchor === 0 ? 't0' : `r${anchor}`;
      const gt = after(anchor);
      const set =
        withinParam === undefined
          ? `arrayFilter(x -> x ${gt} ${prev === 't0' ? 't0' : `${prev}[1]`} AND x <= ${deadline}, s${k})`
          : anchor === 0
            ? `arrayFilter(x -> x ${gt} t0 AND x <= ${deadline} AND x <= t0 + ${withinParam}, s${k})`
            : `arrayFilter(x -> x <= ${deadline} AND arrayExists(y -> x ${gt} y AND x <= y + ${withinParam}, ${prev}), s${k})`;
      // An excluded event after the previous step was reached and before this step voids it: the
      // first step-k event must come before any exclusion (a later one would have it in between too).
      const since = anchor === 0 ? 't0' : `t${anchor}`;
      const guarded = exclusions[k] === undefined ? set : `arrayFilter(x -> NOT arrayExists(z -> z > ${since} AND z < x, e${k}), ${set})`;
      // An unreached previous step yields an empty set, so later steps stay empty too.
      reachCols.push(`${anchor === 0 ? guarded : `if(empty(${prev}), CAST([] AS Array(Int64)), ${guarded})`} AS r${k}`);
      if (steps[k]?.optional) {
        // Done in order: before the next required step was reached (any time, if it never was).
        const next = steps.findIndex((s, j) => j > k && !s.optional);
        optionalCols.push(`arrayFirst(x -> t${next} = 0 OR x < t${next}, r${k}) AS t${k}`);
      } else reachCols.push(`if(empty(r${k}), toInt64(0), r${k}[1]) AS t${k}`);
    } else {
      const bound = withinParam === undefined ? deadline : `least(${deadline}, t0 + ${withinParam})`;
      // In any order there is no previous step: an exclusion between the entry and the step voids it.
      const excluded = exclusions[k] === undefined ? '' : ` AND NOT arrayExists(z -> z > t0 AND z < x, e${k})`;
      reachCols.push(`arrayFirst(x -> x ${after(0)} t0 AND x <= ${bound}${excluded}, s${k}) AS a${k}`);
      // Level k is reached once every required step 2..k (and k itself) happened: at the latest of them.
      const members = Array.from({ length: k }, (_, j) => j + 1).filter((j) => j === k || !steps[j]?.optional);
      const all = members.map((j) => `a${j} > 0`).join(' AND ');
      reachCols.push(`if(${all}, greatest(${['t0', ...members.map((j) => `a${j}`)].join(', ')}), toInt64(0)) AS t${k}`);
    }
    reached.push(`t${k} > 0`);
  }
  reachCols.push(...optionalCols);
  // Last touch: the value on the event that reached the deepest level (found by its time).
  let bdColumn = byTrait ? `tr.trait AS bd` : `bd0 AS bd`;
  if (lastTouch) {
    const arms: string[] = [];
    for (let k = n - 1; k >= 1; k--) {
      const candidates = def.order === 'strict' ? `v${k}` : `arrayConcat(${Array.from({ length: k }, (_, j) => `v${j + 1}`).join(', ')})`;
      arms.push(`t${k} > 0, arrayFirst(p -> p.1 = t${k}, ${candidates}).2`);
    }
    bdColumn = `multiIf(${arms.join(', ')}, bd0) AS bd`;
  }
  // Cohorts follow the calendar of the project time zone (decision 0038).
  const tz = zoneParam(opts, params);
  const cohortFn = def.cohort === 'week' ? `toStartOfWeek(fromUnixTimestamp64Milli(t0, ${tz}), 1)` : `toStartOfMonth(fromUnixTimestamp64Milli(t0, ${tz}))`;
  const levels = [
    `SELECT ${opts.entitiesAtLevel !== undefined ? 'entity, ' : ''}t0, ${cohortFn} AS cohort,`,
    `  ${reachCols.join(',\n  ')},`,
    `  ${bdColumn},`,
    // The deepest step reached; without optional steps, reaching one means reaching all before it.
    hasOptional
      ? `  multiIf(${reached
          .map((r, i) => `${r}, ${i + 2}`)
          .reverse()
          .join(', ')}, 1) AS level`
      : `  1 + ${reached.map((r) => `(${r})`).join(' + ')} AS level`,
    `FROM (\n  ${perEntity}\n) AS pe`,
    ...(breakdown && byTrait ? [`LEFT JOIN ${traitTable(breakdown)} AS tr ON tr.person = pe.bd_person`] : []),
  ].join('\n');

  if (opts.entitiesAtLevel !== undefined) {
    let where: string;
    if (hasOptional) {
      // With optional steps, "dropped off before step L+1" is: reached its anchor, not the step.
      const step = opts.entitiesAtLevel;
      if (!Number.isInteger(step) || step < 1 || step >= n) throw new RangeError(`entitiesAtLevel must be a step from 1 to ${n - 1}`);
      const anchor = anchorOf(step);
      where = `${anchor === 0 ? '' : `t${anchor} > 0 AND `}t${step} = 0`;
    } else where = `level = ${params.set('level', 'UInt32', opts.entitiesAtLevel)}`;
    const limit = params.set('limit', 'UInt32', opts.limit ?? 200);
    const sql = [`SELECT entity, t0`, `FROM (\n${levels}\n)`, `WHERE ${where}`, `ORDER BY t0, entity`, `LIMIT ${limit}`, `SETTINGS join_use_nulls = 0`].join('\n');
    return { sql, params: params.values };
  }

  // Level 4: aggregate the entities once per dimension (total, breakdown value, cohort).
  const dims = [`('total', '')`, ...(breakdown ? [`('breakdown', if(bd = '', '(none)', bd))`] : []), `('cohort', toString(cohort))`];
  const aggregates = [`count() AS entered`];
  // Optional steps make levels non-nested: a step's count is then who reached that step itself.
  const reachedIf = (k: number): string => (hasOptional ? `t${k} > 0` : `level >= ${k + 1}`);
  for (let k = 1; k < n; k++) aggregates.push(`countIf(${reachedIf(k)}) AS reached_${k + 1}`);
  for (let k = 1; k < n; k++) aggregates.push(`quantileExactInclusiveIf(0.5)(t${k} - ${anchorOf(k) === 0 ? 't0' : `t${anchorOf(k)}`}, ${reachedIf(k)}) AS median_ms_${k + 1}`);
  // Time to convert (entry → last step), as a distribution among those who converted.
  aggregates.push(`quantilesExactInclusiveIf(0.1, 0.25, 0.5, 0.75, 0.9)(t${n - 1} - t0, level >= ${n}) AS ttc`);
  const sql = [
    `SELECT g.1 AS dim, g.2 AS value,`,
    `  ${aggregates.join(',\n  ')}`,
    `FROM (\n${levels}\n)`,
    `ARRAY JOIN [${dims.join(', ')}] AS g`,
    `GROUP BY dim, value`,
    `ORDER BY dim, value`,
    `SETTINGS join_use_nulls = 0`,
  ].join('\n');
  return { sql, params: params.values };
}
