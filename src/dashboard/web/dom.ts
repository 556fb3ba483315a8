/**
 * DOM building without innerHTML: every piece of data becomes a text node, so event names or
 * property values such as `<img onerror=…>` are shown as text and never parsed as markup.
 */
import { downloadCsv } from './csv.ts';

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined>;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    // Attribute values are never interpreted as markup; `on*` handlers are refused outright.
    if (/^on/i.test(name)) throw new Error(`refusing event-handler attribute ${name}`);
    node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, ...children);
  return node;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

export function clear(node: Element): void {
  node.replaceChildren();
}

/** Whether the signed-in role may list who dropped off (the page says it: data-sees-persons). */
export const seesPersons = (): boolean => document.body.dataset.seesPersons === 'on';

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} missing from the page`);
  return node as T;
}

export interface Column<T> {
  header: string;
  cell: (row: T) => Child;
  numeric?: boolean;
}

/**
 * An accessible data table with a caption and a CSV download of what it shows; `empty` is shown
 * as one row when there is no data.
 */
export function table<T>(caption: string, columns: Column<T>[], rows: T[], empty = 'No data for this period.', attrs: Attrs = {}): HTMLElement {
  const head = el('tr', {}, ...columns.map((c) => el('th', { scope: 'col', class: c.numeric ? 'num' : undefined }, ...breakable(c.header))));
  const body = rows.length
    ? rows.map((row) =>
        el(
          'tr',
          {},
          ...columns.map((c, i) =>
            i === 0 ? el('th', { scope: 'row', 'data-label': c.header }, c.cell(row)) : el('td', { class: c.numeric ? 'num' : undefined, 'data-label': c.header }, c.cell(row)),
          ),
        ),
      )
    : [el('tr', {}, el('td', { colspan: columns.length, class: 'empty' }, empty))];
  const tableEl = el('table', attrs, el('caption', {}, caption), el('thead', {}, head), el('tbody', {}, ...body));
  const csv = el('button', { type: 'button', class: 'link csv', 'aria-label': `Download “${caption}” as CSV`, 'data-csv': '' }, 'CSV');
  csv.addEventListener('click', () => downloadCsv(tableEl, caption));
  const wrap = el('div', { class: 'table-wrap' }, tableEl);
  focusableWhenScrolling(wrap, caption);
  return el('div', { class: 'table-block' }, el('div', { class: 'table-tools' }, csv), wrap);
}

/**
 * A header such as "freelancer_signup_completed" with a break opportunity after each "_" (a
 * <wbr>, no text: the CSV and screen readers read the name as is), so a step column can narrow
 * and a cohort table fit its box instead of running out of it.
 */
function breakable(text: string): (string | HTMLElement)[] {
  return text.split(/(?<=_)/).flatMap((part, i) => (i === 0 ? [part] : [el('wbr'), part]));
}

/**
 * A table wider than its box scrolls sideways; keyboard users must be able to reach it too, so
 * while it overflows its box is a named, focusable region (arrow keys scroll it). Tables that fit
 * add no tab stop.
 */
function focusableWhenScrolling(wrap: HTMLElement, caption: string): void {
  let shown = false;
  const observer = new ResizeObserver(() => update());
  const update = () => {
    // A table that was shown and then replaced by a re-render stops being watched.
    if (!wrap.isConnected) return shown ? observer.disconnect() : undefined;
    shown = true;
    const scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
    if (scrolls === wrap.hasAttribute('tabindex')) return;
    if (scrolls) {
      wrap.setAttribute('tabindex', '0');
      wrap.setAttribute('role', 'region');
      wrap.setAttribute('aria-label', `${caption} (scrolls sideways)`);
    } else for (const name of ['tabindex', 'role', 'aria-label']) wrap.removeAttribute(name);
  };
  observer.observe(wrap);
  const table = wrap.firstElementChild;
  if (table) observer.observe(table);
}
