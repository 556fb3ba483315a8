/**
 * A small typed client over the parts of Metabase's REST API that provisioning needs: session,
 * databases, collections, native-SQL cards and dashboards (cards placed with
 * PUT /api/dashboard/:id {dashcards}, the API of Metabase 47 and later).
 */
import { MetabaseError } from './errors.ts';

export interface ClickHouseDetails {
  host: string;
  port: number;
  user: string;
  password?: string;
  dbname: string;
  ssl: boolean;
}

export interface MetabaseDatabase {
  id: number;
  name: string;
  engine: string;
  details: Partial<ClickHouseDetails> & Record<string, unknown>;
}

export interface MetabaseCollection {
  id: number | 'root';
  name: string;
  archived?: boolean;
}

export interface NativeQuery {
  type: 'native';
  native: { query: string; 'template-tags'?: Record<string, unknown> };
  database: number;
}

export interface CardInput {
  name: string;
  description: string;
  display: string;
  visualization_settings: Record<string, unknown>;
  dataset_query: NativeQuery;
  collection_id: number;
}

export interface MetabaseCard extends Omit<CardInput, 'dataset_query'> {
  id: number;
  archived: boolean;
  /** Legacy native MBQL before 0.57, MBQL 5 from 0.57 (see query-format.ts): read it, never trust its shape. */
  dataset_query: unknown;
}

export interface DashcardInput {
  /** Existing dashcard id, or a negative number for a new one. */
  id: number;
  card_id: number;
  row: number;
  col: number;
  size_x: number;
  size_y: number;
}

export interface MetabaseDashboard {
  id: number;
  name: string;
  description: string | null;
  collection_id: number | null;
  archived?: boolean;
  dashcards: (DashcardInput & { card_id: number | null })[];
}

export interface CollectionItem {
  id: number;
  name: string;
  model: string;
  description?: string | null;
}

type Method = 'GET' | 'POST' | 'PUT';

export interface MetabaseClientOptions {
  url: string;
  username: string;
  password: string;
  fetch?: typeof fetch;
  /**
   * Reads Metabase and logs in, but sends no write: each one is counted and answered here with
   * what Metabase would answer (its input, with a new negative id for a creation).
   */
  dryRun?: boolean;
}

/** Some list endpoints answer `[...]`, newer ones `{data: [...]}`: accept both. */
function list<T>(body: unknown): T[] {
  if (Array.isArray(body)) return body as T[];
  const data = (body as { data?: unknown } | null)?.data;
  return Array.isArray(data) ? (data as T[]) : [];
}

export class MetabaseClient {
  private session: string | undefined;
  private readonly base: string;
  private readonly doFetch: typeof fetch;
  /** Requests that changed something (POST/PUT other than the login): used to report idempotence. */
  writes = 0;

  constructor(private readonly options: MetabaseClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.doFetch = options.fetch ?? fetch;
  }

  private async send<T>(method: Method, path: string, body?: unknown): Promise<T> {
    if (this.options.dryRun && method !== 'GET' && path !== '/api/session') {
      this.writes++;
      // PUT /api/thing/:id keeps its id; a POST creates the next stand-in.
      const id = method === 'PUT' ? Number(path.slice(path.lastIndexOf('/') + 1)) : -this.writes;
      return { dashcards: [], ...(body as object), id } as T;
    }
    let response: Response;
    try {
      response = await this.doFetch(`${this.base}${path}`, {
        method,
        headers: { 'content-type': 'application/json', accept: 'application/json', ...(this.session ? { 'X-Metabase-Session': this.session } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new MetabaseError('metabase_unreachable', `cannot reach Metabase at ${this.base}: ${(error as Error).message}`);
    }
    const text = await response.text();
    if (!response.ok) {
      if (path === '/api/session' && (response.status === 401 || response.status === 400)) {
        throw new MetabaseError('metabase_login_failed', `Metabase refused the login for ${this.options.username}: check METABASE_USER and METABASE_PASSWORD`);
      }
      throw new MetabaseError('metabase_http_error', `Metabase ${method} ${path} answered ${response.status}: ${text.slice(0, 200)}`, { status: response.status });
    }
    if (method !== 'GET' && path !== '/api/session') this.writes++;
    return (text ? JSON.parse(text) : null) as T;
  }

  async login(): Promise<void> {
    const answer = await this.send<{ id?: unknown } | null>('POST', '/api/session', { username: this.options.username, password: this.options.password });
    // A Metabase that wants a second factor (or SSO only) accepts the password but opens no session.
    if (typeof answer?.id !== 'string' || answer.id === '') {
      throw new MetabaseError(
        'metabase_login_failed',
        `Metabase accepted the password of ${this.options.username} but opened no session (a second factor or single sign-on required?): give METABASE_USER a user that logs in with a password alone`,
      );
    }
    this.session = answer.id;
  }

  async listDatabases(): Promise<MetabaseDatabase[]> {
    return list<MetabaseDatabase>(await this.send('GET', '/api/database'));
  }
  createDatabase(input: { name: string; engine: string; details: ClickHouseDetails }): Promise<MetabaseDatabase> {
    return this.send('POST', '/api/database', input);
  }
  updateDatabase(id: number, input: { name: string; engine: string; details: ClickHouseDetails }): Promise<MetabaseDatabase> {
    return this.send('PUT', `/api/database/${id}`, input);
  }

  async listCollections(): Promise<MetabaseCollection[]> {
    return list<MetabaseCollection>(await this.send('GET', '/api/collection'));
  }
  createCollection(input: { name: string; description: string }): Promise<MetabaseCollection> {
    return this.send('POST', '/api/collection', input);
  }
  async collectionItems(id: number, model: 'card' | 'dashboard'): Promise<CollectionItem[]> {
    return list<CollectionItem>(await this.send('GET', `/api/collection/${id}/items?models=${model}`));
  }

  /** `all`: the cards in use; `archived`: the archived ones (GET /api/card's `f` filter). */
  async listCards(filter: 'all' | 'archived' = 'all'): Promise<MetabaseCard[]> {
    return list<MetabaseCard>(await this.send('GET', `/api/card?f=${filter}`));
  }
  createCard(input: CardInput): Promise<MetabaseCard> {
    return this.send('POST', '/api/card', input);
  }
  updateCard(id: number, input: Partial<CardInput> & { archived?: boolean }): Promise<MetabaseCard> {
    return this.send('PUT', `/api/card/${id}`, input);
  }

  getDashboard(id: number): Promise<MetabaseDashboard> {
    return this.send('GET', `/api/dashboard/${id}`);
  }
  createDashboard(input: { name: string; description: string; collection_id: number }): Promise<MetabaseDashboard> {
    return this.send('POST', '/api/dashboard', input);
  }
  updateDashboard(id: number, input: { name?: string; description?: string; dashcards?: DashcardInput[] }): Promise<MetabaseDashboard> {
    return this.send('PUT', `/api/dashboard/${id}`, input);
  }
}
