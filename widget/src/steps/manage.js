/* The manage page (#manage=<token>, opened from an email or SMS): the practice, the
 * appointment, and what the patient can do — reschedule with the same calendar, cancel, add
 * it to a calendar, call. */
import { api, framePath } from '../api.js';
import { actions, alertBox, announce, button, details, h, loadingScreen, main, para } from '../dom.js';
import { explain, go, register, run, screen } from '../flow.js';
import { ready } from '../host.js';
import { F, lang, t, when } from '../i18n.js';
import { visit } from '../state.js';
import { phoneHref, phoneText } from '../text.js';
import { lostSlot, timeLines } from '../held.js';
import { icsLink } from './done.js';
import { earlierBlock } from './earlier.js';
import { place } from './review.js';

function bootManage(token, showBrand) {
  visit.manage = { token, data: null };
  loadingScreen();
  run(null, main, async () => {
    visit.manage.data = await api('GET', `/manage/${encodeURIComponent(token)}`);
    const key = visit.manage.data.settingPublishableKey;
    if (!visit.key && key) visit.key = key;
    if (visit.key) {
      try {
        visit.cfg = await api('GET', '/config');
      } catch {
        visit.cfg = null; // the look is optional here
      }
    }
    showBrand();
    const d = visit.manage.data;
    visit.sel = { type: d.appointmentType.id, loc: d.location.id, prac: d.practitioner.id };
    ready();
    stepManage();
  }, (e) => {
    if (e.status === 404) screen('manage', t('manageMissingTitle'), para(t('manageMissing')));
    else explain(e, screen('manage', t('manageTitle')), () => bootManage(token, showBrand));
    ready();
    return true;
  });
}

function callLink(loc) {
  const href = phoneHref(loc.phone);
  if (!loc.phone) return null;
  return h('p', { class: 'sp-hint' }, t('questionsCall'), ' ', href ? h('a', { href }, phoneText(loc.phone)) : phoneText(loc.phone));
}

function manageDetails(d) {
  const a = d.appointment;
  const tz = d.location.timeZone;
  const start = Date.parse(a.startDateTime);
  return details([
    [t('service'), d.appointmentType.name],
    [t('practitioner'), d.practitioner.displayName],
    [t('date'), F.date(start, tz)],
    [t('time'), [`${F.time(start, tz)} (${F.zoneName(start, tz)})`, ...timeLines(start, tz, a.telehealth).slice(1)].join(' · ')],
    [t('where'), a.telehealth ? t('telehealthPlace') : place(d.appointmentType, d.location)],
    [t('status'), t(`status_${a.status}`)],
  ]);
}

function stepManage() {
  const d = visit.manage.data;
  const buttons = [];
  if (d.canReschedule) {
    buttons.push(button(t('reschedule'), () => {
      visit.view = null;
      visit.day = null;
      visit.months.clear();
      go('time');
    }, 'sp-btn'));
  }
  if (d.canCancel) buttons.push(button(t('cancelAppointment'), confirmCancel, 'sp-btn sp-danger'));
  const live = d.canCancel || d.canReschedule;
  if (live) buttons.push(icsLink(d.appointment, d.appointmentType, d.location));
  const cancelled = d.appointment.status === 'CANCELLED';
  const practice = visit.cfg && visit.cfg.practiceName;
  screen('manage', t(cancelled ? 'cancelledTitle' : 'manageTitle'),
    practice ? para(t('manageLead', { practice }), 'sp-lead') : null,
    manageDetails(d),
    buttons.length ? actions(buttons) : para(t('manageLocked'), 'sp-note'),
    callLink(d.location),
    cancelled ? null : earlierBlock(visit.manage.token, d),
    cancelled ? bookAgain() : null);
}

function bookAgain() {
  if (!visit.key) return null;
  return h('p', {}, h('a', { href: framePath({ key: visit.key, lang }), class: 'sp-btn sp-secondary' }, t('bookAnother')));
}

function confirmCancel() {
  const d = visit.manage.data;
  const tz = d.location.timeZone;
  const yes = button(t('confirmCancel'), () => run(yes, section, async () => {
    const r = await api('POST', `/manage/${encodeURIComponent(visit.manage.token)}/cancel`, {});
    d.appointment = r.appointment;
    d.canCancel = false;
    d.canReschedule = false;
    stepManage();
    announce(t('cancelledTitle'));
  }, (e) => manageRefused(e, section)), 'sp-btn sp-danger');
  const section = screen('manage-cancel', t('cancelTitle'),
    para(t('cancelQuestion', { what: d.appointmentType.name, when: when(Date.parse(d.appointment.startDateTime), tz) }), 'sp-lead'),
    actions(yes, button(t('keep'), stepManage, 'sp-btn sp-secondary')));
}

function manageRefused(e, area) {
  if (['not_cancellable', 'not_reschedulable', 'appointment_in_past'].includes(e.code)) {
    alertBox(area, t('manageRefused'), [button(t('back'), () => go('boot-manage'), 'sp-btn sp-secondary')]);
    return true;
  }
  return false;
}

function confirmReschedule(choice) {
  const d = visit.manage.data;
  const tz = d.location.timeZone;
  const yes = button(t('confirmMove'), () => run(yes, section, async () => {
    const r = await api('POST', `/manage/${encodeURIComponent(visit.manage.token)}/reschedule`, {
      startDateTime: choice.startDateTime,
      schedulerConfigId: choice.schedulerConfigId,
      practitionerId: choice.practitionerId,
    });
    d.appointment = r.appointment;
    if (choice.practitionerId !== d.practitioner.id) {
      d.practitioner = { id: choice.practitionerId, displayName: choice.name || visit.names[choice.practitionerId] || d.practitioner.displayName };
    }
    visit.months.clear();
    movedScreen();
  }, (e) => lostSlot(e, section, (alt) => confirmReschedule(alt)) || manageRefused(e, section)), 'sp-btn');
  const section = screen('manage-confirm', t('moveTitle'),
    details([
      [t('from'), when(Date.parse(d.appointment.startDateTime), tz)],
      [t('to'), `${when(choice.startUnix, tz)} (${F.zoneName(choice.startUnix, tz)})`],
    ]),
    actions(yes, button(t('pickAnother'), () => go('time'), 'sp-btn sp-secondary')));
}

function movedScreen() {
  const d = visit.manage.data;
  screen('manage-done', t('movedTitle'), manageDetails(d),
    actions(icsLink(d.appointment, d.appointmentType, d.location), button(t('backToAppointment'), stepManage, 'sp-btn sp-secondary')));
  announce(t('movedTitle'));
}

register('manage', stepManage);
register('manage-boot', bootManage);
register('boot-manage', () => bootManage(visit.manage.token, () => {}));
register('manage-confirm', confirmReschedule);
