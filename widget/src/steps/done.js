/* Step: booked. Date, time, place or video visit, an .ics built here, the manage link, and —
 * while the practice keeps a waitlist — asking for an earlier time (earlier.js). */
import { actions, details, h, para } from '../dom.js';
import { register, screen } from '../flow.js';
import { F, t } from '../i18n.js';
import { attempt, locOf, practitionerName, typeOf, visit, zoneOf } from '../state.js';
import { ics } from '../ics.js';
import { timeLines } from '../held.js';
import { earlierBlock } from './earlier.js';
import { place, typeName } from './review.js';

export function icsLink(appointment, type, loc) {
  const practice = (visit.cfg && visit.cfg.practiceName) || '';
  const text = ics({
    uid: `appointment-${appointment.id}@${location.hostname}`,
    start: Date.parse(appointment.startDateTime),
    end: Date.parse(appointment.endDateTime),
    summary: [typeName(type), practice].filter(Boolean).join(' — '),
    where: place(type, loc),
    description: [practice, loc && loc.phone].filter(Boolean).join(' · '),
  });
  const url = URL.createObjectURL(new Blob([text], { type: 'text/calendar;charset=utf-8' }));
  return h('a', { href: url, download: 'appointment.ics', class: 'sp-btn sp-secondary' }, t('addToCalendar'));
}

function stepDone() {
  const a = attempt.booked.appointment;
  const tz = zoneOf();
  const type = typeOf();
  const start = Date.parse(a.startDateTime);
  screen('confirmation', t('doneTitle'),
    para(t('doneLead'), 'sp-lead'),
    details([
      [t('service'), typeName(type)],
      [t('practitioner'), practitionerName(a.practitionerId)],
      [t('date'), F.date(start, tz)],
      [t('time'), [`${F.time(start, tz)} (${F.zoneName(start, tz)})`, ...timeLines(start, tz, a.telehealth).slice(1)].join(' · ')],
      [t('where'), a.telehealth ? t('telehealthPlace') : place(type, locOf())],
    ]),
    actions(icsLink(a, type, locOf()),
      h('a', { href: attempt.booked.manageUrl, target: '_blank', rel: 'noopener', class: 'sp-btn sp-secondary', id: 'sp-manage-link' }, t('manageLink'))),
    para(t('doneNote'), 'sp-hint'),
    earlierBlock(attempt.booked.manageToken, attempt.booked));
}

register('done', stepDone);
