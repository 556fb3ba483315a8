/**
 * Reads a card's `dataset_query` in either of the shapes Metabase answers with:
 * - legacy MBQL (up to 0.56): `{type: "native", native: {query, "template-tags"}, database}`;
 * - MBQL 5 / pMBQL (0.57 and later store and return every query this way):
 *   `{"lib/type": "mbql/query", database, stages: [{"lib/type": "mbql.stage/native", native, "template-tags"}]}`.
 * Balise writes the legacy shape, which every version accepts (0.57+ normalises it to MBQL 5 on
 * save), and compares what it reads back by meaning, so neither shape looks like a change.
 */
import { stableJson } from '../util/stable-json.ts';
import { isPlainObject } from '../util/objects.ts';

export interface NativeQueryView {
  database: number;
  sql: string;
  templateTags: Record<string, unknown>;
}

const isObject = isPlainObject;

function tags(value: unknown): Record<string, unknown> {
  return isObject(value) ? value : {};
}

/** The native SQL question inside `datasetQuery`, or undefined if it is not a one-stage native query. */
export function readNativeQuery(datasetQuery: unknown): NativeQueryView | undefined {
  if (!isObject(datasetQuery) || typeof datasetQuery.database !== 'number') return undefined;
  const database = datasetQuery.database;
  if (datasetQuery['lib/type'] === 'mbql/query') {
    const stages = datasetQuery.stages;
    // A native stage followed by GUI stages (someone added a filter in Metabase) is not Balise's question.
    if (!Array.isArray(stages) || stages.length !== 1) return undefined;
    const stage: unknown = stages[0];
    if (!isObject(stage) || stage['lib/type'] !== 'mbql.stage/native' || typeof stage.native !== 'string') return undefined;
    return { database, sql: stage.native, templateTags: tags(stage['template-tags']) };
  }
  if (datasetQuery.type === 'native' && isObject(datasetQuery.native) && typeof datasetQuery.native.query === 'string') {
    return { database, sql: datasetQuery.native.query, templateTags: tags(datasetQuery.native['template-tags']) };
  }
  return undefined;
}

/** Whether the stored query is the wanted one: same database, same SQL, same template tags. */
export function sameNativeQuery(stored: unknown, wanted: NativeQueryView): boolean {
  const current = readNativeQuery(stored);
  return current !== undefined && current.database === wanted.database && current.sql === wanted.sql && stableJson(current.templateTags) === stableJson(wanted.templateTags);
}
