/* The waitlist (docs/waitlist.md): the offer page (#offer=<token>, opened from the offer's SMS
 * or email) with one button to take the time (the earlier-time request that leads here is
 * earlier.js). An offer is first come, first served: when someone else was quicker, the
 * patient is told so and stays on the list. */
import { api } from '../api.js';
import { actions, announce, button, details, h, loadingScreen, main, para } from '../dom.js';
import { explain, register, run, screen } from '../flow.js';
import { ready } from '../host.js';
import { F, t, when } from '../i18n.js';
import { icsLink } from './done.js';
import { place } from './review.js';

const offer = { token: null, data: null };

function bootOffer(token, showBrand) {
  offer.token = token;
  loadingScreen();
  run(null, main, async () => {
    offer.data = await api('GET', `/offer/${encodeURIComponent(token)}`);
    showBrand();
    ready();
    stepOffer();
  }, (e) => {
    if (e.status === 404) screen('offer', t('offerMissingTitle'), para(t('offerMissing')));
    else explain(e, screen('offer', t('offerTitle')), () => bootOffer(token, showBrand));
    ready();
    return true;
  });
}

function slotDetails(d, start, extra) {
  const tz = d.location.timeZone;
  return details([
    [t('service'), d.appointmentType.name],
    [t('practitioner'), d.practitioner.displayName],
    [t('date'), F.date(start, tz)],
    [t('time'), `${F.time(start, tz)} (${F.zoneName(start, tz)})`],
    [t('where'), d.appointmentType.telehealth ? t('telehealthPlace') : place(d.appointmentType, d.location)],
    ...extra,
  ]);
}

function stepOffer() {
  const d = offer.data;
  if (d.status !== 'OPEN') {
    ended(d.status);
    return;
  }
  const tz = d.location.timeZone;
  const start = Date.parse(d.startDateTime);
  const earlier = d.kind === 'EARLIER';
  const take = button(t(earlier ? 'offerMove' : 'offerTake'), () => run(take, section, async () => {
    claimed(await api('POST', `/offer/${encodeURIComponent(offer.token)}/claim`, {}, { idem: true }));
  }, (e) => {
    if (e.code !== 'offer_taken' && e.code !== 'offer_expired') return false;
    ended(e.code === 'offer_taken' ? 'TAKEN' : 'EXPIRED');
    return true;
  }));
  const current = earlier && d.currentStartDateTime ? [[t('offerInsteadOf'), when(Date.parse(d.currentStartDateTime), tz)]] : [];
  const section = screen('offer', t('offerTitle'),
    para(t('offerLead', { practice: d.practiceName, time: F.time(Date.parse(d.expiresAt), tz) }), 'sp-lead'),
    slotDetails(d, start, current),
    actions(take),
    para(t('offerNote'), 'sp-hint'));
}

function ended(status) {
  const title = { CLAIMED: t('offerClaimedTitle'), TAKEN: t('offerTakenTitle') }[status] || t('offerExpiredTitle');
  screen('offer-ended', title, para(t(status === 'CLAIMED' ? 'offerClaimed' : 'offerStillWaiting'), 'sp-lead'));
  announce(title);
}

function claimed(r) {
  const d = offer.data;
  const a = r.appointment;
  const title = d.kind === 'EARLIER' ? 'movedTitle' : 'doneTitle';
  offer.data = { ...d, status: 'CLAIMED' };
  screen('offer-done', t(title),
    slotDetails(d, Date.parse(a.startDateTime), []),
    actions(icsLink(a, d.appointmentType, d.location),
      r.manageUrl ? h('a', { href: r.manageUrl, target: '_blank', rel: 'noopener', class: 'sp-btn sp-secondary' }, t('manageLink')) : null),
    para(t('doneNote'), 'sp-hint'));
  announce(t(title));
}

register('offer-boot', bootOffer);
