/**
 * Keeps the import direction written down in docs/architecture.md: every relative import in
 * src/ is checked against the layer table below, so a backwards import (or a new folder that
 * nobody placed) fails here with the file and line to fix.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * What each top-level entry of src/ may import besides itself and the foundation
 * (`types.ts`, `errors.ts`, `util/`). `sdk` stands for the SDK package beside src/.
 * Keep in step with the table in docs/architecture.md.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  // Foundation: imported by anyone, imports nothing above it.
  util: [],
  'errors.ts': [],
  'types.ts': [],
  // Base: settings, the plan, process-wide plumbing.
  config: [],
  plan: [],
  observability: ['config'],
  redis: ['observability'],
  // The live view of events: what a viewer sees, the fan-out to viewers (pure but for timers).
  live: [],
  // The pipeline, in the direction data flows: ingest → queue → warehouse; analytics reads the warehouse.
  warehouse: ['config', 'plan', 'observability'],
  queue: ['config', 'plan', 'observability', 'redis', 'warehouse'],
  // `sdk`: the API serves the browser SDK's build (sdk-asset.ts).
  ingest: ['config', 'plan', 'observability', 'queue', 'warehouse', 'live', 'sdk'],
  analytics: ['config', 'plan', 'observability', 'warehouse'],
  // Data-subject requests: a person's rows in the warehouse and in the queue.
  privacy: ['config', 'observability', 'queue', 'warehouse'],
  // Edges that read the pipeline's results.
  metabase: ['config', 'plan', 'observability', 'analytics'],
  // The read and admin API that the CLI and the dashboard share.
  api: ['config', 'plan', 'observability', 'queue', 'warehouse', 'analytics', 'live', 'privacy'],
  // Alerts as code: measures through the warehouse and analytics, notifies webhooks; Redis is injected.
  alerts: ['config', 'plan', 'observability', 'warehouse', 'analytics'],
  dashboard: ['config', 'plan', 'observability', 'warehouse', 'analytics', 'api', 'live'],
  demo: ['config', 'plan', 'warehouse', 'sdk'],
  // `balise import`: archive readers and format mappers; sends through the server's HTTP ingest.
  import: [],
  // Entry points: wire everything together.
  cli: ['config', 'plan', 'observability', 'redis', 'live', 'warehouse', 'queue', 'ingest', 'analytics', 'metabase', 'api', 'dashboard', 'demo', 'import', 'privacy', 'alerts'],
};
/** Importable from anywhere; it imports only what its own row allows (nothing: it knows no layer). */
const FOUNDATION = new Set(['types.ts', 'errors.ts', 'util']);

/**
 * Imports the table forbids that exist today, each with the reason and what removes it. The
 * test also fails when one of them disappears, so that this list only ever shrinks.
 */
const KNOWN_EXCEPTIONS: { from: string; to: string; why: string }[] = [];

/** Browser code is bundled by esbuild: it may take only types from server modules. */
const BROWSER_DIR = 'src/dashboard/web/';

export interface Import {
  from: string;
  to: string;
  line: number;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(rel);
    return /\.(ts|mts|mjs)$/.test(entry.name) ? [rel] : [];
  });
}

/** Relative imports of one file (static, `export … from`, dynamic `import('…')`), repo-relative. */
export function importsOf(file: string, text: string): Import[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Import[] = [];
  const add = (specifier: ts.Node, typeOnly: boolean) => {
    if (!ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) return;
    const to = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier.text));
    found.push({ from: file, to, line: source.getLineAndCharacterOfPosition(specifier.getStart()).line + 1, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const allTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, allTypes);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      add(node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) {
      add(node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The layer an import names: a top-level entry of src/, `sdk`, or undefined (elsewhere). */
function layerOf(file: string): string | undefined {
  if (file.startsWith('sdk/')) return 'sdk';
  if (!file.startsWith('src/')) return undefined;
  return file.split('/')[1];
}

const where = (i: Import) => `${i.from}:${i.line} imports ${i.to}`;
const unplaced = (layer: string) =>
  `src/${layer} has no place in the layering: add it to MAY_IMPORT in tests/unit/architecture.test.ts (with what it may import) and to the layer table in docs/architecture.md`;

/** Every broken rule, as one readable line each. */
export function violations(imports: readonly Import[], layers: readonly string[]): string[] {
  const problems = new Set<string>();
  for (const layer of layers) if (!(layer in MAY_IMPORT)) problems.add(unplaced(layer));
  for (const i of imports) {
    const from = layerOf(i.from);
    const to = layerOf(i.to);
    if (from === 'sdk' && i.to.startsWith('src/')) problems.add(`${where(i)}: the SDK is its own package and imports nothing from src/`);
    if (from === undefined || from === 'sdk' || to === undefined || from === to) continue;
    if (!(from in MAY_IMPORT)) continue; // reported above
    if (to !== 'sdk' && !(to in MAY_IMPORT)) {
      problems.add(unplaced(to));
      continue;
    }
    if (i.from.startsWith(BROWSER_DIR) && !i.typeOnly && !i.to.startsWith(BROWSER_DIR) && to !== 'util') {
      problems.add(`${where(i)}: browser code may import only types from server modules (use "import type")`);
    }
    const allowed = FOUNDATION.has(from) ? MAY_IMPORT[from]! : [...FOUNDATION, ...MAY_IMPORT[from]!];
    if (allowed.includes(to)) continue;
    if (KNOWN_EXCEPTIONS.some((e) => e.from === i.from && e.to === i.to)) continue;
    problems.add(`${where(i)}: ${from} may not import ${to} (${from} may import ${allowed.length ? allowed.join(', ') : 'nothing from src'}; see docs/architecture.md)`);
  }
  return [...problems];
}

function scanRepo(): { imports: Import[]; layers: string[] } {
  const files = [...sourceFiles('src'), ...sourceFiles('sdk/src')];
  const imports = files.flatMap((file) => importsOf(file, fs.readFileSync(path.join(ROOT, file), 'utf8')));
  const layers = [...new Set(files.filter((f) => f.startsWith('src/')).map((f) => f.split('/')[1]!))];
  return { imports, layers };
}

describe('architecture: imports point one way', () => {
  const repo = scanRepo();

  it('src/ has no import against the layer table', () => {
    expect(repo.imports.length).toBeGreaterThan(100);
    expect(violations(repo.imports, repo.layers)).toEqual([]);
  });

  it('every known exception still exists (remove it from the list once fixed)', () => {
    const fixed = KNOWN_EXCEPTIONS.filter((e) => !repo.imports.some((i) => i.from === e.from && i.to === e.to));
    expect(fixed.map((e) => `${e.from} → ${e.to}`)).toEqual([]);
  });

  it('the layer table names only folders that exist', () => {
    expect(Object.keys(MAY_IMPORT).filter((layer) => !repo.layers.includes(layer))).toEqual([]);
  });

  it('docs/architecture.md shows the same layer table', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs/architecture.md'), 'utf8');
    const names = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\/$/, '').replace(/^sdk\/src$/, 'sdk')).sort();
    const documented: Record<string, string[]> = {};
    for (const line of doc.split('\n')) {
      const [, layer, entries, mayImport] = line.split('|').map((cell) => cell.trim());
      if (!layer || !entries || mayImport === undefined || !/^(foundation|base|pipeline|read side|entry points)$/.test(layer)) continue;
      const allowed =
        layer === 'foundation'
          ? []
          : mayImport.startsWith('everything above')
            ? Object.keys(MAY_IMPORT)
                .filter((l) => !FOUNDATION.has(l) && l !== 'cli')
                .sort()
            : names(mayImport);
      for (const entry of names(entries)) documented[entry] = allowed;
    }
    expect(documented).toEqual(Object.fromEntries(Object.entries(MAY_IMPORT).map(([layer, allowed]) => [layer, [...allowed].sort()])));
  });

  it('finds static, re-exported, dynamic and type-only imports', () => {
    const text = [
      "import { a } from '../ingest/rows.ts';",
      "import type { B } from './b.ts';",
      "export { c } from '../plan/c.ts';",
      "const d = await import('../cli/d.ts');",
      "import fs from 'node:fs';",
      "let e: import('../types.ts').E;",
    ].join('\n');
    expect(importsOf('src/warehouse/x.ts', text)).toEqual([
      { from: 'src/warehouse/x.ts', to: 'src/ingest/rows.ts', line: 1, typeOnly: false },
      { from: 'src/warehouse/x.ts', to: 'src/warehouse/b.ts', line: 2, typeOnly: true },
      { from: 'src/warehouse/x.ts', to: 'src/plan/c.ts', line: 3, typeOnly: false },
      { from: 'src/warehouse/x.ts', to: 'src/cli/d.ts', line: 4, typeOnly: false },
      { from: 'src/warehouse/x.ts', to: 'src/types.ts', line: 6, typeOnly: true },
    ]);
  });

  it.each([
    ['a lower layer importing a higher one', 'src/warehouse/replay.ts', 'src/ingest/rows.ts', /warehouse\/replay\.ts:1 imports src\/ingest\/rows\.ts: warehouse may not import ingest/],
    ['two edges importing each other', 'src/api/auth.ts', 'src/ingest/auth.ts', /api may not import ingest/],
    ['the foundation importing a layer', 'src/util/x.ts', 'src/config/index.ts', /util may not import config \(util may import nothing from src/],
    ['a layer importing the CLI', 'src/plan/x.ts', 'src/cli/main.ts', /plan may not import cli/],
    ['the SDK importing the server', 'sdk/src/core.ts', 'src/types.ts', /the SDK is its own package/],
    ['browser code importing a server value', 'src/dashboard/web/x.ts', 'src/analytics/run.ts', /browser code may import only types/],
  ])('fails on %s', (_name, from, to, message) => {
    const problems = violations([{ from, to, line: 1, typeOnly: false }], ['warehouse', 'dashboard', 'util', 'plan']);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it('fails on a folder that has no place in the table, naming where to add it', () => {
    const problems = violations([{ from: 'src/cli/export.ts', to: 'src/export/run.ts', line: 3, typeOnly: false }], ['cli', 'export']);
    expect(problems).toEqual([unplaced('export')]);
    expect(problems[0]).toMatch(/^src\/export has no place in the layering: add it to MAY_IMPORT in tests\/unit\/architecture\.test\.ts/);
  });
});
