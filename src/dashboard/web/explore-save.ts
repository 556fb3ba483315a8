/**
 * Explore's "Save as code": the YAML the API validated, to copy into tracking-plan/kpis/, and,
 * where the server may write the plan (BALISE_KPIS_WRITABLE) and the user is an admin, a button
 * that saves it as tracking-plan/kpis/<id>.yaml through POST /api/admin/kpis.
 */
import { ApiError, postJson } from './api.ts';
import { append, clear, el } from './dom.ts';

export interface SavedQuestion {
  kind: 'metric' | 'funnel';
  definition: unknown;
}

export function renderSaveAsCode(box: HTMLElement, yaml: string, question: SavedQuestion | undefined): void {
  clear(box);
  const code = el('code', { 'data-field': 'yaml' }, yaml);
  const copy = el('button', { type: 'button', class: 'secondary' }, 'Copy YAML');
  copy.addEventListener('click', () => {
    void navigator.clipboard?.writeText(yaml).then(() => (copy.textContent = 'Copied'));
  });
  append(
    box,
    el('h3', {}, 'Save as code'),
    el(
      'p',
      { class: 'muted' },
      'Paste into a file under tracking-plan/kpis/ (merge the list into an existing one), then review it like the plan: ',
      el('code', {}, 'balise plan check --fix'),
      " lints it and adds it to its events' kpis: lists.",
    ),
    el('pre', { class: 'yaml' }, code),
    copy,
    question ? saveButton(question) : null,
  );
}

function saveButton(question: SavedQuestion): HTMLElement | null {
  if (document.body.dataset.saveKpis !== 'on') return null;
  const outcome = el('p', { class: 'muted small', 'data-field': 'save-result', role: 'status' });
  const save = el('button', { type: 'button', 'data-action': 'save-kpi' }, 'Save to tracking-plan/kpis/');
  save.addEventListener('click', () => {
    save.setAttribute('disabled', '');
    postJson<{ file: string; eventsUpdated: string[]; versionBumped?: { from: string; to: string } }>('/api/admin/kpis', question)
      .then((saved) => {
        outcome.className = 'muted small';
        const bumped = saved.versionBumped ? `; plan.yaml version ${saved.versionBumped.from} → ${saved.versionBumped.to} (a kpis: change is a patch)` : '';
        outcome.textContent = `Saved ${saved.file}${saved.eventsUpdated.length ? `; kpis: lists updated in ${saved.eventsUpdated.join(', ')}` : ''}${bumped}. Commit it for review.`;
      })
      .catch((error: unknown) => {
        save.removeAttribute('disabled');
        outcome.className = 'error';
        outcome.textContent = error instanceof ApiError ? `Not saved: ${error.message} (${error.code})` : `Not saved: ${(error as Error).message}`;
      });
  });
  return el('div', { class: 'save-kpi' }, save, outcome);
}
