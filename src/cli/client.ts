import { loadConfig } from '../config/index.ts';
import { readAdminToken } from '../config/secrets.ts';
import { BaliseError } from '../errors.ts';

/**
 * CLI commands that read data go through the running server's HTTP API: in embedded mode the
 * chDB engine belongs to that process (one data directory per process).
 */
export async function callApi<T>(method: 'GET' | 'POST', path: string, body?: unknown, baseUrlOverride?: string): Promise<T> {
  const config = loadConfig();
  const baseUrl = baseUrlOverride ?? `http://127.0.0.1:${config.port}`;
  const token = readAdminToken(config);
  if (!token) throw new BaliseError('admin_token_missing', `no admin token: set BALISE_ADMIN_TOKEN or start Balise once so that ${config.dataDir}/admin-token exists`);
  let response: Response;
  try {
    response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new BaliseError('server_unreachable', `Balise is not running at ${baseUrl}: start it with \`npm start\` (or \`npx balise up\`)`);
  }
  const payload = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
  if (!response.ok) throw new BaliseError(payload.code ?? `http_${response.status}`, payload.message ?? `HTTP ${response.status}`);
  return payload as T;
}
