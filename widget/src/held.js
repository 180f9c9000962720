/* The chosen time on every later step: what, when (and in the patient's own zone for a video
 * visit), with whom, and the hold's countdown. The hold is renewed while the patient is
 * active and, if it lapses, the patient is told and can hold it again. Also: placing the hold
 * and the alternatives offered when the time was taken. */
import { api } from './api.js';
import { alertBox, announce, button, h, para } from './dom.js';
import { every, go, run } from './flow.js';
import { activity } from './host.js';
import { F, t, when } from './i18n.js';
import { attempt, chooseTime, locOf, practitionerName, typeOf, visit, zoneOf } from './state.js';
import { sameClock } from './text.js';
import { clock, secondsLeft, shouldRenew } from './hold.js';

export function slotBody(choice) {
  return {
    appointmentTypeId: visit.sel.type,
    locationId: visit.sel.loc,
    practitionerId: choice.practitionerId,
    schedulerConfigId: choice.schedulerConfigId,
    startDateTime: choice.startDateTime,
  };
}

/** Hold the chosen time (a new hold replaces the attempt's previous one). */
export async function placeHold(choice) {
  const hold = await api('POST', '/attempt/hold', slotBody(choice), { idem: true });
  chooseTime(choice);
  attempt.hold = hold;
  announce(t('held', { time: when(choice.startUnix, zoneOf()) }));
  if (refresh) refresh();
}

let refresh = null; // the shown countdown's update, when one is shown

/** Hold the time if the server will: it holds only for an attempt that sent a code (409
 * code_not_sent) and within a per-client cap (429 rate_limited); without a hold the patient
 * carries on, since the booking re-checks the time. False when not held. */
export async function tryHold(choice) {
  chooseTime(choice);
  try {
    await placeHold(choice);
    return true;
  } catch (e) {
    if (e.code === 'code_not_sent' || e.code === 'rate_limited') return false;
    throw e;
  }
}

/** The browser's zone, when a video visit's time reads differently there. */
export const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

/** '9:00 AM Eastern Standard Time' and, for a video visit in another zone, the local time too. */
export function timeLines(ms, tz, telehealth) {
  const lines = [`${when(ms, tz)} (${F.zoneName(ms, tz)})`];
  const mine = browserZone();
  if (telehealth && mine && !sameClock(ms, tz, mine)) {
    lines.push(t('yourTime', { time: `${F.day(ms, mine)}, ${F.time(ms, mine)}`, zone: F.zoneName(ms, mine) }));
  }
  return lines;
}

/* Not a live region: a screen reader hears the countdown when it reads the step, not each
 * second; the lapse alone is announced (role=alert). Focused once held again (the button
 * that did it goes with its alert). */
const countdownLine = () => h('p', { class: 'sp-hold', id: 'sp-hold', tabindex: '-1' });

/** The box naming the chosen time, with the hold's countdown (steps after the time). */
export function chosenBox() {
  const c = attempt.slot;
  if (!c) return null;
  const type = typeOf();
  const tz = zoneOf();
  const countdown = countdownLine();
  const box = h('div', { class: 'sp-chosen', id: 'sp-chosen' },
    h('p', { class: 'sp-chosen-label' }, t('yourChoice')),
    timeLines(c.startUnix, tz, type && type.telehealth).map((line) => para(line, 'sp-chosen-time')),
    para([practitionerName(c.practitionerId), type && type.telehealth ? t('telehealth') : (locOf() || {}).name].filter(Boolean).join(' · '), 'sp-chosen-who'),
    countdown,
    button(t('changeTime'), () => go('time'), 'sp-link'));
  watch(box, countdown);
  return box;
}

/** The hold's countdown on its own, for a step that lists the chosen time itself (review):
 * the same renewal, and the lapse said right above it. */
export function holdLine() {
  const countdown = countdownLine();
  const line = h('div', { class: 'sp-hold-line' }, countdown);
  watch(line, countdown);
  return line;
}

/* Tick the countdown each second while it is on screen, renew the hold while the patient is
 * active, and once it lapses say so in `area` (once per countdown shown: each later step
 * says it again while the hold stays lapsed). */
function watch(area, countdown) {
  let renewing = false;
  let lapsed = null; // the alert saying the hold lapsed, while it shows
  const tick = () => {
    if (!attempt.hold) {
      countdown.textContent = '';
      return;
    }
    const left = secondsLeft(attempt.hold.expiresAt, Date.now());
    if (left > 0) {
      if (lapsed) lapsed.remove();
      lapsed = null;
      countdown.textContent = t('heldFor', { time: clock(left) });
    } else if (!lapsed) {
      countdown.textContent = '';
      lapsed = alertBox(area, t('holdLapsed'), [
        button(t('holdAgain'), (e) => run(e.currentTarget, area, () => placeHold(attempt.slot).then(() => { tick(); countdown.focus(); }), (err) => lostSlot(err, area, (alt) => run(null, area, () => placeHold(alt).then(() => go('afterTime'))))), 'sp-btn'),
        button(t('pickAnother'), () => go('time'), 'sp-btn sp-secondary'),
      ]);
    }
    if (!renewing && shouldRenew(attempt.hold.expiresAt, Date.now(), activity.last)) {
      renewing = true;
      api('POST', '/attempt/hold', slotBody(attempt.slot), { idem: true })
        .then((hold) => { attempt.hold = hold; })
        .catch(() => {}) // a failed renewal shows as the countdown running out
        .finally(() => { renewing = false; });
    }
  };
  refresh = tick;
  tick();
  // started once the countdown is on screen: screen() stops the previous step's timers, and
  // the countdown is built before screen() runs
  setTimeout(() => {
    if (countdown.isConnected) every(1000, tick);
  }, 0);
}

/* 409 slot_unavailable: the alternatives the server offered, as buttons; the chosen
 * practitioner's first, anyone else named. */
export function lostSlot(e, area, pick) {
  if (e.code !== 'slot_unavailable') return false;
  visit.months.clear();
  const tz = zoneOf();
  const wanted = attempt.slot ? attempt.slot.practitionerId : visit.sel.prac;
  const alts = (e.body.alternatives || []).map((a) => ({
    startUnix: a.startUnix,
    startDateTime: a.startDateTime,
    endUnix: a.startUnix + (((typeOf() || {}).durationMinutes) || 30) * 60000,
    practitionerId: a.practitionerId,
    schedulerConfigId: a.schedulerConfigId,
    name: a.practitionerName,
  }));
  const label = (a) => (a.practitionerId === wanted || !a.name ? when(a.startUnix, tz) : t('withPractitioner', { time: when(a.startUnix, tz), name: a.name }));
  const buttons = alts.map((a) => button(label(a), (ev) => pick(a, ev.currentTarget), 'sp-btn sp-secondary sp-alt'));
  const again = visit.manage ? null : button(t('pickAnother'), () => { visit.day = null; go('time'); }, 'sp-btn sp-secondary');
  alertBox(area, t(alts.length ? 'slotTakenAlternatives' : 'slotTaken'), [h('div', { class: 'sp-alts' }, buttons), again]);
  const firstAlt = area.querySelector('.sp-alt');
  if (firstAlt) firstAlt.focus();
  return true;
}
