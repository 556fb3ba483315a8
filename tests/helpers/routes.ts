import type { Express } from 'express';

/** The parts of express 5's router (the `router` package) that the route walk reads. */
interface RouteLike {
  path: string | string[];
  methods: Record<string, boolean>;
}
interface LayerLike {
  route?: RouteLike;
  rawPath?: unknown;
  handle?: { stack?: LayerLike[] };
}

const join = (prefix: string, path: string) => (prefix === '' || prefix === '/' ? path : `${prefix}${path === '/' ? '' : path}`);

/**
 * Every "METHOD /path" the app registers, read from its router (routes of mounted routers
 * included, prefixed with their mount path). Middleware (CORS, the JSON 404) is not a route.
 */
export function registeredRoutes(app: Express): string[] {
  const root = (app as unknown as { router?: { stack: LayerLike[] } }).router;
  if (!root) throw new Error('the app has no router: nothing registered');
  const out: string[] = [];
  const walk = (stack: LayerLike[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const path of paths) for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') out.push(`${method.toUpperCase()} ${join(prefix, path)}`);
      } else if (layer.handle?.stack) {
        // A mounted router: only plain string mount paths are used in Balise; anything else would be unreadable.
        if (typeof layer.rawPath !== 'string') throw new Error(`a router is mounted at a non-string path: ${String(layer.rawPath)}`);
        walk(layer.handle.stack, join(prefix, layer.rawPath));
      }
    }
  };
  walk(root.stack, '');
  return [...new Set(out)].sort();
}

/**
 * One spelling for a path in express (`/a/:id`, `/sdk/v:version/x.js`) and OpenAPI (`/a/{id}`):
 * parameter names do not matter, their places do.
 */
export function canonicalPath(path: string): string {
  return path
    .replace(/\{[^}/]+\}/g, '{}')
    .replace(/:[A-Za-z_][A-Za-z0-9_]*/g, '{}')
    .replace(/\*[A-Za-z_][A-Za-z0-9_]*/g, '{*}');
}
