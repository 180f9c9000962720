/* The steps and how to move between them. Steps register themselves by name and reach each
 * other only through go(name), so a new view (a waitlist offer, say) is one more module that
 * registers a step and is imported by main.js. Also: one screen per step, the step counter,
 * and running an action with a way forward when it fails (never a dead end). */
import { ApiError, api } from './api.js';
import { alertBox, busy, button, clearAlert, h, main, para } from './dom.js';
import { activity, emit } from './host.js';
import { lang, t } from './i18n.js';
import { attempt, forgetAttempt, remember, visit } from './state.js';

const steps = {};
export const register = (name, show) => {
  steps[name] = show;
};
export const go = (name, ...args) => steps[name](...args);

let current = '';
const timers = new Set();
/** An interval that stops when the screen changes. */
export function every(ms, fn) {
  const id = setInterval(fn, ms);
  timers.add(id);
  return id;
}

/* One screen per step: a section labelled by its heading, which takes focus (after the
 * patient has interacted, so the host page's own focus is never stolen on load). Alerts go
 * right under the heading. */
export function screen(name, title, ...body) {
  for (const id of timers) clearInterval(id);
  timers.clear();
  const heading = h('h1', { id: 'sp-title', class: 'sp-title', tabindex: '-1' }, title);
  const section = h('section', { class: 'sp-step', 'aria-labelledby': 'sp-title', 'data-step': name },
    heading, progress(name), h('div', { class: 'sp-step-alerts' }), ...body);
  main.replaceChildren(section);
  main.removeAttribute('aria-busy');
  if (activity.interacted) heading.focus();
  if (name !== current) {
    current = name;
    emit('slotproof:step', { step: name });
  }
  return section;
}

export function needsChoice() {
  const c = visit.cfg;
  if (!c || visit.manage) return false;
  return (
    (c.appointmentTypeSelectable && c.appointmentTypes.length > 1)
    || (c.locationSelectable && c.locations.length > 1)
    || (c.arePractitionersSelectable && c.practitioners.length > 1)
    || !visit.sel.type || !visit.sel.loc
  );
}

function progress(name) {
  if (visit.manage) return null;
  const flow = [];
  if (needsChoice()) flow.push('service');
  flow.push('time');
  if (attempt.method) flow.push('contact');
  flow.push('patient', 'review');
  const i = flow.indexOf(name);
  return i < 0 ? null : para(t('stepOf', { n: i + 1, total: flow.length }), 'sp-progress');
}

export async function ensureAttempt() {
  if (attempt.token) return;
  const started = await api('POST', '/attempt', { lang });
  remember(started.attemptToken);
  attempt.missing = started.attempt.missingVerifications || [];
  attempt.sent = {};
}

/** A new attempt, keeping the visit details already chosen. */
export function startOver() {
  if (!visit.cfg && !visit.manage) {
    go('boot');
    return;
  }
  forgetAttempt();
  if (visit.manage) go('manage');
  else if (visit.sel.type && visit.sel.loc) go('time'); // keep the visit details already chosen
  else go('service');
}

const SESSION_CODES = ['invalid_attempt_token', 'attempt_abandoned', 'attempt_finished', 'proof_expired'];

/* Run an action; on failure show a message in `area` with a way forward (try again, or
 * start over). `handle(e)` returns true when it dealt with the error. */
export async function run(btn, area, action, handle) {
  busy(btn, true);
  clearAlert(area);
  try {
    return await action();
  } catch (err) {
    const e = err instanceof ApiError ? err : new ApiError(0, 'client');
    if (!(err instanceof ApiError)) console.error(err); // eslint-disable-line no-console
    if (handle && handle(e)) return undefined;
    explain(e, area, () => run(btn, area, action, handle));
    return undefined;
  } finally {
    busy(btn, false);
  }
}

export function explain(e, area, again) {
  const retry = button(t('tryAgain'), again);
  if (e.transient) alertBox(area, t(e.status === 0 ? 'errNetwork' : 'errServer'), [retry]);
  else if (SESSION_CODES.includes(e.code)) alertBox(area, t('errSession'), [button(t('startOver'), startOver)]);
  else if (e.code === 'invalid_widget_key') alertBox(area, t('errKey'), [retry]);
  else if (e.code === 'setting_inactive') alertBox(area, t('errInactive'), [retry]);
  else if (e.status === 429) alertBox(area, t('errBusy'), [retry]);
  else alertBox(area, t('errGeneric'), [retry, visit.manage ? null : button(t('startOver'), startOver, 'sp-btn sp-secondary')]);
}
