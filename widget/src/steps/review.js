/* Step: review and book, the hold's countdown above Book (renewed, its lapse said there). A
 * patient who already has an upcoming visit of this type is told so first and may manage
 * that one instead (two tabs booked the same day twice). */
import { api } from '../api.js';
import { actions, alertBox, button, details, h } from '../dom.js';
import { go, register, run, screen, startOver } from '../flow.js';
import { emit } from '../host.js';
import { t, when } from '../i18n.js';
import { attempt, locOf, practitionerName, typeOf, visit, zoneOf } from '../state.js';
import { address } from '../text.js';
import { holdLine, lostSlot, placeHold, slotBody, timeLines } from '../held.js';

export function typeName(type) {
  return visit.cfg && !visit.cfg.appointmentTypeVisible ? t('appointment') : (type && type.name) || t('appointment');
}

export function place(type, loc) {
  if (type && type.telehealth) return t('telehealthPlace');
  return [loc && loc.name, address(loc)].filter(Boolean).join(' — ');
}

function stepReview() {
  const tz = zoneOf();
  const type = typeOf();
  const c = attempt.slot;
  const submit = button(t('book'), () => book(submit, section), 'sp-btn');
  const section = screen('review', t('reviewTitle'),
    details([
      [t('service'), typeName(type)],
      [t('practitioner'), practitionerName(c.practitionerId)],
      [t('when'), timeLines(c.startUnix, tz, type && type.telehealth).join(' · ')],
      [t('where'), place(type, locOf())],
      [t('patient'), attempt.patient ? `${attempt.patient.firstName} ${attempt.patient.lastName}` : ''],
    ]),
    holdLine(),
    actions(submit, button(t('changeTime'), () => go('time'), 'sp-btn sp-secondary')));
  if (!attempt.upcomingChecked) warnUpcoming(section);
}

/** An upcoming visit of the same type: say when, and offer to manage it instead. */
async function warnUpcoming(section) {
  try {
    const found = await api('GET', `/attempt/upcoming?appointmentTypeId=${visit.sel.type}`);
    attempt.upcomingChecked = true;
    const [first] = found.appointments || [];
    if (!first || !section.isConnected) return;
    const at = Date.parse(first.startDateTime);
    alertBox(section, t('alreadyHave', { what: first.appointmentTypeName, time: when(at, zoneOf()), name: first.practitionerName }), [
      h('a', { href: first.manageUrl, target: '_blank', rel: 'noopener', class: 'sp-btn sp-secondary', id: 'sp-manage-existing' }, t('manageExisting')),
    ], 'status');
  } catch {
    /* the warning is a courtesy: booking goes on without it */
  }
}

function book(btn, area) {
  run(btn, area, async () => {
    attempt.booked = await api('POST', '/attempt/appointment', slotBody(attempt.slot), { idem: true });
    const a = attempt.booked.appointment;
    emit('slotproof:booked', { appointmentId: a.id, startDateTime: a.startDateTime });
    go('done');
  }, (e) => {
    const retake = (alt, b) => run(b, area, async () => {
      await placeHold(alt);
      go('review');
    }, (err) => lostSlot(err, area, retake));
    if (lostSlot(e, area, retake)) return true;
    if (e.code === 'not_verified') { go('contact'); return true; }
    if (e.code === 'patient_not_set') { go('patient'); return true; }
    if (e.code === 'already_booked') {
      alertBox(area, t('alreadyBooked'), [button(t('startOver'), startOver)]);
      return true;
    }
    return false;
  });
}

register('review', stepReview);
