/** Labelled form controls for the dashboard's builders (Explore): each calls back with its new value. */
import { el } from './dom.ts';

let uid = 0;
const nextId = (prefix: string) => `${prefix}-${++uid}`;

export function field(label: string, control: HTMLElement, extra = ''): HTMLElement {
  const id = control.id || nextId('f');
  control.id = id;
  return el('div', { class: `field ${extra}`.trim() }, el('label', { for: id }, label), control);
}

export function select(name: string, options: { value: string; label: string }[], value: string, onChange: (v: string) => void): HTMLSelectElement {
  const s = el('select', { name, 'data-control': name }, ...options.map((o) => el('option', { value: o.value }, o.label)));
  s.value = value;
  s.addEventListener('change', () => onChange(s.value));
  return s;
}

export function input(name: string, value: string, onChange: (v: string) => void, attrs: Record<string, string> = {}): HTMLInputElement {
  const i = el('input', { name, value, 'data-control': name, autocomplete: 'off', spellcheck: 'false', ...attrs });
  i.value = value;
  i.addEventListener('change', () => onChange(i.value));
  return i;
}

export function checkbox(name: string, checked: boolean, onChange: (v: boolean) => void): HTMLInputElement {
  const c = el('input', { type: 'checkbox', name, 'data-control': name });
  c.checked = checked;
  c.addEventListener('change', () => onChange(c.checked));
  return c;
}

/** Options from names, with an optional empty first choice. */
export const opts = (names: string[], none?: string) => [...(none === undefined ? [] : [{ value: '', label: none }]), ...names.map((n) => ({ value: n, label: n }))];
