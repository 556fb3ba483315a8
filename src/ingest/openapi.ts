import fs from 'node:fs';
import path from 'node:path';
import type { Request, Response } from 'express';

/** The OpenAPI 3.1 description of the HTTP API, kept next to the code it describes (src/openapi.json). */
export const OPENAPI_FILE = path.join(import.meta.dirname, '..', 'openapi.json');

/** GET /openapi.json: the file, read once on first request (the spec is static for a process). */
export function openApiHandler() {
  let body: string | undefined;
  return (_req: Request, res: Response) => {
    body ??= fs.readFileSync(OPENAPI_FILE, 'utf8');
    res.type('application/json').setHeader('Cache-Control', 'no-cache');
    res.send(body);
  };
}
