/* slotproof widget: the waitlist views (docs/waitlist.md), kept in their own file. The offer
 * page (#offer=<token>, opened from the offer's SMS or email) with one button to take the time,
 * and the manage page's earlier-time request. app.js hands in its helpers (`ctx`); nothing
 * here touches the host page. An offer is first come, first served: when someone else was
 * quicker the patient is told so and stays on the list. */
self.SlotproofWaitlist = (() => {
  'use strict';

  function slotDetails(c, d, start) {
    const tz = d.location.timeZone;
    const rows = [
      [c.t('service'), d.appointmentType.name],
      [c.t('practitioner'), d.practitioner.displayName],
      [c.t('date'), c.fDate(start, tz)],
      [c.t('time'), `${c.fTime(start, tz)} (${c.zoneName(start, tz)})`],
      [c.t('where'), c.place(d.appointmentType, d.location)],
    ];
    if (d.kind === 'EARLIER' && d.currentStartDateTime && d.status === 'OPEN') {
      rows.push([c.t('offerInsteadOf'), c.when(Date.parse(d.currentStartDateTime), tz)]);
    }
    return c.details(rows);
  }

  function bootOffer(c, token) {
    c.loadingScreen();
    c.run(null, c.main, async () => {
      const d = await c.api('GET', `/offer/${encodeURIComponent(token)}`);
      c.applyTheme({});
      c.ready();
      showOffer(c, token, d);
    }, (e) => {
      if (e.status === 404) c.screen('offer', c.t('offerMissingTitle'), c.para(c.t('offerMissing')));
      else c.explain(e, c.screen('offer', c.t('offerTitle')), () => bootOffer(c, token));
      c.ready();
      return true;
    });
  }

  function showOffer(c, token, d) {
    if (d.status !== 'OPEN') {
      ended(c, d.status);
      return;
    }
    const tz = d.location.timeZone;
    const take = c.button(c.t(d.kind === 'EARLIER' ? 'offerMove' : 'offerTake'), () => c.run(take, section, async () => {
      const r = await c.api('POST', `/offer/${encodeURIComponent(token)}/claim`, {}, { idem: true });
      claimed(c, d, r);
    }, (e) => {
      if (e.code !== 'offer_taken' && e.code !== 'offer_expired') return false;
      ended(c, e.code === 'offer_taken' ? 'TAKEN' : 'EXPIRED');
      return true;
    }));
    const section = c.screen('offer', c.t('offerTitle'),
      c.para(c.t('offerLead', { practice: d.practiceName, time: c.fTime(Date.parse(d.expiresAt), tz) }), 'sp-lead'),
      slotDetails(c, d, Date.parse(d.startDateTime)),
      c.h('div', { class: 'sp-actions' }, take),
      c.para(c.t('offerNote'), 'sp-hint'));
  }

  function ended(c, status) {
    const title = { CLAIMED: 'offerClaimedTitle', TAKEN: 'offerTakenTitle' }[status] || 'offerExpiredTitle';
    c.screen('offer-ended', c.t(title), c.para(c.t(status === 'CLAIMED' ? 'offerClaimed' : 'offerStillWaiting'), 'sp-lead'));
    c.announce(c.t(title));
  }

  function claimed(c, d, r) {
    const a = r.appointment;
    const title = d.kind === 'EARLIER' ? 'movedTitle' : 'doneTitle';
    c.screen('offer-done', c.t(title),
      slotDetails(c, { ...d, status: 'CLAIMED' }, Date.parse(a.startDateTime)),
      c.h('div', { class: 'sp-actions' }, c.icsLink(a, d.appointmentType, d.location),
        r.manageUrl ? c.h('a', { href: r.manageUrl, target: '_blank', rel: 'noopener', class: 'sp-btn sp-secondary' }, c.t('manageLink')) : null),
      c.para(c.t('doneNote'), 'sp-hint'));
    c.announce(c.t(title));
  }

  /** The manage page's block: a button asking for an earlier time, or a note once asked.
   * `state` is the manage answer ({canAskEarlier, earlierRequested}), kept up to date. */
  function earlierBlock(c, manageToken, state) {
    if (!state.canAskEarlier && !state.earlierRequested) return null;
    const box = c.h('div', { class: 'sp-earlier' });
    const show = () => {
      if (state.earlierRequested) {
        box.replaceChildren(c.para(c.t('earlierOn'), 'sp-note'));
        return;
      }
      const ask = c.button(c.t('earlierAsk'), () => c.run(ask, box, async () => {
        await c.api('POST', `/manage/${encodeURIComponent(manageToken)}/earlier`, { lang: c.lang }, { idem: true });
        state.earlierRequested = true;
        show();
        c.announce(c.t('earlierOn'));
      }), 'sp-btn sp-secondary');
      box.replaceChildren(c.para(c.t('earlierLead'), 'sp-hint'), c.h('div', { class: 'sp-actions' }, ask));
    };
    show();
    return box;
  }

  return { bootOffer, earlierBlock };
})();
