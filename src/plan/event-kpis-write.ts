/**
 * `balise plan check --fix`: rewrites the `kpis:` list of an event file, keeping its comments
 * and layout (the yaml library edits the document, not a re-serialised object).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';

/** Sets `kpis:` in `<planDir>/<file>` to `kpis` (removes the key when empty); true when the file changed. */
export async function writeEventKpis(planDir: string, file: string, kpis: string[]): Promise<boolean> {
  const target = path.join(planDir, file);
  const before = await fs.readFile(target, 'utf8');
  const doc = parseDocument(before);
  if (kpis.length === 0) doc.delete('kpis');
  else {
    const node = doc.createNode(kpis);
    doc.set('kpis', node);
  }
  // No line folding, no padding inside [ ]: the rest of the file keeps its hand-written layout.
  const after = doc.toString({ lineWidth: 0, flowCollectionPadding: false });
  if (after === before) return false;
  await fs.writeFile(target, after);
  return true;
}
