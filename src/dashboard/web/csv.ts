/**
 * CSV export of any dashboard table: the cells as shown (header row first), RFC 4180 quoting,
 * and a leading apostrophe on cells that a spreadsheet would run as a formula (=, +, -, @), since
 * event names and property values come from clients.
 */
export function csvCell(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) && !/^[-+]?\d[\d.,]*%?$/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(rows: string[][]): string {
  return rows.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

/**
 * A number as a spreadsheet in any locale reads it: "2,336" without its grouping commas (a French
 * spreadsheet read it as 2.336). Anything else is left as shown.
 */
export function plainNumber(text: string): string {
  return /^[-+]?\d{1,3}(,\d{3})+(\.\d+)?%?$/.test(text) ? text.replace(/,/g, '') : text;
}

/** What a cell shows, without its controls (the "who?" beside a drop-off is a button, not data); a numeric cell's number plain. */
function cellText(cell: Element): string {
  const copy = cell.cloneNode(true) as Element;
  for (const control of copy.querySelectorAll('button')) control.remove();
  const text = (copy.textContent ?? '').trim();
  return cell.classList.contains('num') ? plainNumber(text) : text;
}

/** The rows of a rendered table, header first, without its caption or empty-state row. */
export function tableRows(table: HTMLTableElement): string[][] {
  return [...table.querySelectorAll('tr')].filter((tr) => !tr.querySelector('td.empty')).map((tr) => [...tr.querySelectorAll('th, td')].map(cellText));
}

/** A file name from a caption: "Events by plan version" → "events-by-plan-version.csv". */
export function csvFileName(caption: string): string {
  const slug = caption
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80);
  return `${slug || 'table'}.csv`;
}

export function downloadCsv(table: HTMLTableElement, caption: string): void {
  // A byte-order mark: Excel opens a CSV as UTF-8 only with one ("–", "…", "→" were mojibake).
  const blob = new Blob(['\ufeff', toCsv(tableRows(table))], { type: 'text/csv;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = csvFileName(caption);
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
