/**
 * Idempotent Metabase provisioning: find-or-create the ClickHouse connection, the "Balise"
 * collection, one native question per KPI and funnel, and the "Balise KPIs" dashboard. Every
 * write is preceded by a comparison, so a second run with unchanged definitions writes nothing.
 * Managed cards are recognised by the marker in their description, not by their title.
 */
import type { KpiDefinitions } from '../analytics/model.ts';
import type { CardInput, ClickHouseDetails, DashcardInput, MetabaseCard, MetabaseClient, MetabaseDashboard } from './client.ts';
import { sameNativeQuery } from './query-format.ts';
import { stableJson } from '../util/stable-json.ts';
import { keyFromDescription, questionsFor, type Question } from './questions.ts';

export const DATABASE_NAME = 'Balise ClickHouse';
export const COLLECTION_NAME = 'Balise';
export const DASHBOARD_NAME = 'Balise KPIs';
const DASHBOARD_MARKER = 'balise:dashboard:kpis';
/** Metabase's dashboard grid is 24 columns wide (since 0.47). */
const GRID = 24;

export interface ProvisionReport {
  database: { id: number; action: 'created' | 'updated' | 'unchanged' };
  collection: { id: number; action: 'created' | 'unchanged' };
  /** restored: archived when its KPI was removed, brought back (with its settings and subscriptions) when it returned. */
  cards: { created: string[]; updated: string[]; archived: string[]; restored: string[]; unchanged: string[] };
  dashboard: { id: number; action: 'created' | 'updated' | 'unchanged' };
  /** Write requests sent (0 on a run that changed nothing). */
  writes: number;
}

function detailsDiffer(current: Record<string, unknown>, wanted: ClickHouseDetails): boolean {
  // Metabase never returns the password (it answers a mask), so it cannot be compared.
  return (['host', 'port', 'user', 'dbname', 'ssl'] as const).some((k) => String(current[k] ?? '') !== String(wanted[k]));
}

function cardInput(q: Question, databaseId: number, collectionId: number): CardInput {
  return {
    name: q.name,
    description: q.description,
    display: q.display,
    visualization_settings: q.visualization_settings,
    dataset_query: { type: 'native', native: { query: q.sql }, database: databaseId },
    collection_id: collectionId,
  };
}

/** The fields of `card` that differ from `wanted` (only the fields Balise manages). */
export function cardChanges(card: MetabaseCard, wanted: CardInput): Partial<CardInput> {
  const changes: Partial<CardInput> = {};
  if (card.name !== wanted.name) changes.name = wanted.name;
  if ((card.description ?? '') !== wanted.description) changes.description = wanted.description;
  if (card.display !== wanted.display) changes.display = wanted.display;
  if (card.collection_id !== wanted.collection_id) changes.collection_id = wanted.collection_id;
  const settings = card.visualization_settings ?? {};
  if (Object.entries(wanted.visualization_settings).some(([k, v]) => stableJson(settings[k]) !== stableJson(v))) {
    changes.visualization_settings = { ...settings, ...wanted.visualization_settings };
  }
  const { database, native } = wanted.dataset_query;
  // Metabase 0.57+ answers MBQL 5 ({"lib/type": "mbql/query", stages: [...]}) whatever was sent: compare meanings, not shapes.
  if (!sameNativeQuery(card.dataset_query, { database, sql: native.query, templateTags: native['template-tags'] ?? {} })) {
    changes.dataset_query = wanted.dataset_query;
  }
  return changes;
}

/** KPI cards three to a row, then funnels two to a row, then retention tables two to a row. */
export function layout(questions: Question[], cardIds: Map<string, number>): Omit<DashcardInput, 'id'>[] {
  const placed: Omit<DashcardInput, 'id'>[] = [];
  let row = 0;
  for (const [kind, perRow, height] of [
    ['kpi', 3, 5],
    ['funnel', 2, 7],
    ['retention', 2, 7],
  ] as const) {
    const group = questions.filter((q) => q.kind === kind);
    const width = GRID / perRow;
    group.forEach((q, i) => {
      placed.push({ card_id: cardIds.get(q.key) as number, row: row + Math.floor(i / perRow) * height, col: (i % perRow) * width, size_x: width, size_y: height });
    });
    row += Math.ceil(group.length / perRow) * height;
  }
  return placed;
}

const layoutKey = (d: Omit<DashcardInput, 'id'>) => `${d.card_id}@${d.row},${d.col},${d.size_x}x${d.size_y}`;

/** The fields of a dashcard that PUT /api/dashboard/:id takes back (Metabase 0.47+ `dashcards`). */
const DASHCARD_FIELDS = ['id', 'card_id', 'dashboard_tab_id', 'action_id', 'row', 'col', 'size_x', 'size_y', 'series', 'parameter_mappings', 'visualization_settings'] as const;

/** A dashcard as read, with only what the PUT takes: a user's card goes back as it was. */
function asSent(dashcard: MetabaseDashboard['dashcards'][number]): DashcardInput {
  const raw = dashcard as unknown as Record<string, unknown>;
  return Object.fromEntries(DASHCARD_FIELDS.filter((k) => raw[k] !== undefined).map((k) => [k, raw[k]])) as unknown as DashcardInput;
}

/**
 * The dashcards to PUT (Metabase deletes every dashcard not in the list): Balise's cards at their
 * places, reusing their dashcard ids, and every other card (a user's text, heading or own
 * question) as it was. Only Balise's cards (`ours`, their card ids) are compared: undefined
 * when they are already where they belong.
 */
export function dashcardsUpdate(dashboard: MetabaseDashboard, wanted: Omit<DashcardInput, 'id'>[], ours: ReadonlySet<number>): DashcardInput[] | undefined {
  const current = dashboard.dashcards.filter((d) => d.card_id !== null && ours.has(d.card_id));
  const others = dashboard.dashcards.filter((d) => d.card_id === null || !ours.has(d.card_id));
  const same = current.length === wanted.length && new Set(current.map(layoutKey)).size === wanted.length && wanted.every((w) => current.some((c) => layoutKey(c) === layoutKey(w)));
  if (same) return undefined;
  const existing = new Map(current.map((d) => [d.card_id, d]));
  let next = -1;
  const placed = wanted.map((w) => {
    const before = existing.get(w.card_id);
    return before ? { ...asSent(before), ...w } : { id: next--, ...w };
  });
  return [...others.map(asSent), ...placed];
}

export interface ProvisionOptions {
  clickhouse: ClickHouseDetails;
  definitions: KpiDefinitions;
  /** The project time zone (IANA) the questions' buckets and cohorts follow; default UTC. */
  timeZone?: string | undefined;
  /**
   * Send the connection even when it looks unchanged: Metabase answers the password masked, so
   * a rotated ClickHouse password cannot be seen otherwise.
   */
  updateConnection?: boolean;
}

/** Balise's archived cards by key, the most recent one of each. */
async function archivedCards(client: MetabaseClient): Promise<Map<string, MetabaseCard>> {
  const byKey = new Map<string, MetabaseCard>();
  for (const card of await client.listCards('archived')) {
    const key = keyFromDescription(card.description);
    if (key && (!byKey.has(key) || card.id > byKey.get(key)!.id)) byKey.set(key, card);
  }
  return byKey;
}

export async function provisionMetabase(client: MetabaseClient, opts: ProvisionOptions): Promise<ProvisionReport> {
  await client.login();
  const writesBefore = client.writes;

  const dbInput = { name: DATABASE_NAME, engine: 'clickhouse', details: opts.clickhouse };
  const existingDb = (await client.listDatabases()).find((d) => d.name === DATABASE_NAME);
  let database: ProvisionReport['database'];
  if (!existingDb) database = { id: (await client.createDatabase(dbInput)).id, action: 'created' };
  else if (opts.updateConnection || existingDb.engine !== 'clickhouse' || detailsDiffer(existingDb.details ?? {}, opts.clickhouse))
    database = { id: (await client.updateDatabase(existingDb.id, dbInput)).id, action: 'updated' };
  else database = { id: existingDb.id, action: 'unchanged' };

  const existingCollection = (await client.listCollections()).find((c) => c.name === COLLECTION_NAME && !c.archived && typeof c.id === 'number');
  const collection: ProvisionReport['collection'] = existingCollection
    ? { id: existingCollection.id as number, action: 'unchanged' }
    : { id: (await client.createCollection({ name: COLLECTION_NAME, description: 'KPIs and funnels provisioned by Balise from tracking-plan/kpis.' })).id as number, action: 'created' };

  const questions = questionsFor(opts.definitions, opts.timeZone);
  const managed = new Map<string, MetabaseCard>();
  for (const card of await client.listCards()) {
    const key = keyFromDescription(card.description);
    if (key && !card.archived && !managed.has(key)) managed.set(key, card);
  }
  const cards: ProvisionReport['cards'] = { created: [], updated: [], archived: [], restored: [], unchanged: [] };
  const cardIds = new Map<string, number>();
  let archived: Map<string, MetabaseCard> | undefined;
  for (const q of questions) {
    const wanted = cardInput(q, database.id, collection.id);
    const card = managed.get(q.key);
    if (!card) {
      // A KPI removed, then restored: its archived card comes back rather than a second one.
      archived ??= await archivedCards(client);
      const old = archived.get(q.key);
      if (old) {
        await client.updateCard(old.id, { ...cardChanges(old, wanted), archived: false });
        cardIds.set(q.key, old.id);
        cards.restored.push(q.key);
      } else {
        cardIds.set(q.key, (await client.createCard(wanted)).id);
        cards.created.push(q.key);
      }
      continue;
    }
    cardIds.set(q.key, card.id);
    const changes = cardChanges(card, wanted);
    if (Object.keys(changes).length) {
      await client.updateCard(card.id, changes);
      cards.updated.push(q.key);
    } else cards.unchanged.push(q.key);
  }
  const wantedKeys = new Set(questions.map((q) => q.key));
  for (const [key, card] of managed) {
    if (wantedKeys.has(key)) continue;
    await client.updateCard(card.id, { archived: true });
    cards.archived.push(key);
  }

  // A collection just created holds nothing yet (and, in a dry run, does not exist).
  const items = collection.action === 'created' ? [] : await client.collectionItems(collection.id, 'dashboard');
  const found = items.find((i) => i.model === 'dashboard' && (i.description ?? '').includes(DASHBOARD_MARKER)) ?? items.find((i) => i.model === 'dashboard' && i.name === DASHBOARD_NAME);
  let dashboard: ProvisionReport['dashboard'];
  let current: MetabaseDashboard;
  if (found) {
    current = await client.getDashboard(found.id);
    dashboard = { id: current.id, action: 'unchanged' };
  } else {
    current = await client.createDashboard({
      name: DASHBOARD_NAME,
      description: `Balise KPIs and funnels (${DASHBOARD_MARKER}), provisioned by \`balise metabase provision\`.`,
      collection_id: collection.id,
    });
    current = { ...current, dashcards: current.dashcards ?? [] };
    dashboard = { id: current.id, action: 'created' };
  }
  // Balise's cards: the ones it placed now and the ones it archived (taken off the dashboard).
  const ours = new Set([...cardIds.values(), ...[...managed.values()].map((c) => c.id)]);
  const dashcards = dashcardsUpdate(current, layout(questions, cardIds), ours);
  if (dashcards) {
    await client.updateDashboard(current.id, { dashcards });
    if (dashboard.action === 'unchanged') dashboard.action = 'updated';
  }

  return { database, collection, cards, dashboard, writes: client.writes - writesBefore };
}
