/* Building the page: elements, fields with their errors, alerts, the live region. No HTML
 * from strings anywhere (textContent only), no style attributes (strict CSP). */
import { t } from './i18n.js';

export const main = document.getElementById('sp-main');
const liveRegion = document.getElementById('sp-status');

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Replace an element's children (null / false children are skipped, as in h()). */
export const fill = (el, ...children) => el.replaceChildren(...children.flat().filter((c) => c != null && c !== false));
export const button = (label, onclick, cls = 'sp-btn', props = {}) => h('button', { type: 'button', class: cls, onclick, ...props }, label);
export const para = (text, cls) => h('p', { class: cls }, text);
export const actions = (...items) => h('div', { class: 'sp-actions' }, ...items);

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

export function field(label, input, hint) {
  const id = input.id || (input.id = nextId('sp-f'));
  const err = h('p', { class: 'sp-error', id: `${id}-err`, hidden: true });
  const hintEl = hint ? h('p', { class: 'sp-hint', id: `${id}-hint` }, hint) : null;
  input.setAttribute('aria-describedby', [hintEl && hintEl.id, err.id].filter(Boolean).join(' '));
  return h('div', { class: 'sp-field' }, h('label', { for: id }, label), hintEl, input, err);
}

/** Show (or clear) an input's error: red, aria-invalid="true", described by the message. */
export function setError(input, message) {
  const err = document.getElementById(`${input.id}-err`);
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
  if (err) {
    err.textContent = message || '';
    err.hidden = !message;
  }
  return !message;
}

export function announce(message) {
  liveRegion.textContent = '';
  requestAnimationFrame(() => {
    liveRegion.textContent = message;
  });
}

/** A button busy while its action runs; one marked data-locked stays disabled after. */
export function busy(el, on) {
  if (!el) return;
  el.disabled = on || el.hasAttribute('data-locked');
  if (on) el.setAttribute('aria-busy', 'true');
  else el.removeAttribute('aria-busy');
}

/** An error or notice for the step: right under its heading (or at the top of `area`). An
 * error replaces the area's earlier ones; a notice removes none (a lapsed hold stays said). */
export function alertBox(area, message, buttons, kind = 'alert') {
  if (kind === 'alert') clearAlert(area);
  const box = h('div', { class: `sp-alert${kind === 'status' ? ' sp-notice' : ''}`, role: kind },
    para(message), buttons && buttons.length ? actions(buttons) : null);
  const slot = area.querySelector(':scope > .sp-step-alerts') || area;
  slot.prepend(box);
  return box;
}
export function clearAlert(area) {
  for (const old of area.querySelectorAll('.sp-alert')) old.remove();
}

export function details(rows) {
  return h('dl', { class: 'sp-details' }, rows.filter((r) => r && r[1]).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function loadingScreen() {
  main.setAttribute('aria-busy', 'true');
  main.replaceChildren(h('div', { class: 'sp-spinner', role: 'img', 'aria-label': t('loading') }));
}

/** A loading line for a part of a step (calendar, times). */
export const loadingLine = (text) => h('p', { class: 'sp-loading', role: 'status' }, h('span', { class: 'sp-spinner sp-small', 'aria-hidden': 'true' }), text);
