/* Asking for an earlier time (docs/waitlist.md): on the manage page and on the confirmation
 * right after booking, for the appointment behind a manage token. One button, then a note
 * that says the patient is on the list; asking again (another tab, the manage page) is the
 * same live request on the server. */
import { api } from '../api.js';
import { actions, announce, button, h, para } from '../dom.js';
import { run } from '../flow.js';
import { lang, t } from '../i18n.js';

// the appointment or the practice's waitlist changed since the page was shown
const CLOSED = ['waitlist_disabled', 'not_reschedulable', 'appointment_in_past', 'setting_inactive'];

/** The block offering an earlier time for the appointment behind `manageToken`: a button, or
 * a note once asked. `state` is {canAskEarlier, earlierRequested} (the manage page's data, or
 * the booking's answer), kept up to date here. */
export function earlierBlock(manageToken, state) {
  if (!state.canAskEarlier && !state.earlierRequested) return null;
  const box = h('div', { class: 'sp-earlier' });
  // the button is gone once answered: the keyboard's focus goes to what replaced it
  const note = (text) => {
    const p = h('p', { class: 'sp-note', tabindex: '-1' }, text);
    box.replaceChildren(p);
    return p;
  };
  const ask = button(t('earlierAsk'), () => run(ask, box, async () => {
    await api('POST', `/manage/${encodeURIComponent(manageToken)}/earlier`, { lang }, { idem: true });
    state.earlierRequested = true;
    note(t('earlierOn')).focus();
    announce(t('earlierOn'));
  }, (e) => {
    if (!CLOSED.includes(e.code)) return false;
    state.canAskEarlier = false;
    note(t('earlierClosed')).focus();
    announce(t('earlierClosed'));
    return true;
  }), 'sp-btn sp-secondary');
  if (state.earlierRequested) note(t('earlierOn'));
  else box.append(para(t('earlierLead'), 'sp-hint'), actions(ask));
  return box;
}
