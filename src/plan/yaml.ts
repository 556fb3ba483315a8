/**
 * YAML with positions (pure): parsed data plus what is needed to point a message at a line. The
 * one YAML line lookup of the repo: the plan, alerts.yaml and kpis/*.yaml all answer "which line
 * is this key on" here.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { LintMessage } from './model.ts';

/** A YAML file parsed with enough position information to point at any key. */
export interface ParsedYaml {
  file: string;
  data: unknown;
  doc: Document;
  lineCounter: LineCounter;
}

/** A YAML error in one line; the library's advice to its own callers (parseAllDocuments) in a plan owner's words. */
export function yamlErrorMessage(error: { code: string; message: string }): string {
  if (error.code === 'MULTIPLE_DOCS') return 'a plan file holds one YAML document: remove this "---" and what follows, or move it to a file of its own';
  return error.message.split('\n')[0] ?? 'invalid YAML';
}

/** Parses one file's text; a syntax error becomes its `yaml_syntax` message, at the line it is on. */
export function parseYaml(file: string, text: string): ParsedYaml | LintMessage {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    const line = lineCounter.linePos(first.pos[0]).line;
    return { file, line, rule: 'yaml_syntax', message: yamlErrorMessage(first), severity: 'error' };
  }
  return { file, data: doc.toJS({ maxAliasCount: 100 }) as unknown, doc, lineCounter };
}

export function isLintMessage(x: ParsedYaml | LintMessage): x is LintMessage {
  return 'rule' in x;
}

/** The 1-based line of a YAML node (of its first character); 1 for a missing node. */
export function nodeLine(lineCounter: LineCounter, node: unknown): number {
  const range = (node as { range?: readonly number[] } | null | undefined)?.range;
  return range?.[0] !== undefined ? lineCounter.linePos(range[0]).line : 1;
}

function splitPointer(pointer: string): string[] {
  return pointer === ''
    ? []
    : pointer
        .slice(1)
        .split('/')
        .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** The 1-based line of the deepest node found along the JSON `pointer` (the key's line for map entries). */
export function lineAt(parsed: Pick<ParsedYaml, 'doc' | 'lineCounter'>, pointer: string): number {
  let node: unknown = parsed.doc.contents;
  let offset = 0;
  for (const segment of splitPointer(pointer)) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === segment);
      if (!pair) break;
      if (isScalar(pair.key) && pair.key.range) offset = pair.key.range[0];
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)];
      if (!item) break;
      if (isScalar(item) && item.range) offset = item.range[0];
      else if (isMap(item) && item.range) offset = item.range[0];
      node = item;
    } else {
      break;
    }
  }
  return parsed.lineCounter.linePos(offset).line;
}

/** The line of each pointer ('' is line 1), as TrackingPlan keeps them for lint messages. */
export function linesOf(parsed: ParsedYaml, pointers: string[]): Record<string, number> {
  const lines: Record<string, number> = { '': 1 };
  for (const p of pointers) lines[p] = lineAt(parsed, p);
  return lines;
}
