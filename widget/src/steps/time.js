/* Step: a month calendar and the day's times. One month of availability per request; the
 * earliest day with openings starts selected; "Next available" is one click away; months
 * never page past the booking horizon, and an empty month says why. */
import { api } from '../api.js';
import { actions, announce, button, fill, h, loadingLine, para } from '../dom.js';
import { ensureAttempt, go, needsChoice, register, run, screen } from '../flow.js';
import { F, T, t, when } from '../i18n.js';
import { attempt, chooseTime, locOf, practitionerName, typeOf, visit, zoneOf } from '../state.js';
import {
  dayKey, earliestSlot, firstOpenDay, lastMonth, monthGrid, monthIndex, monthRange, openDays, parseKey, shift, slotChoice,
} from '../calendar.js';
import { cityOf, phoneText, sameClock, zoned } from '../text.js';
import { browserZone, lostSlot, tryHold } from '../held.js';

function summaryLine() {
  const bits = [];
  const type = typeOf();
  if (visit.manage || visit.cfg.appointmentTypeVisible) bits.push(type && type.name);
  if (visit.manage || visit.cfg.locationVisible) bits.push(type && type.telehealth ? t('telehealth') : locOf() && locOf().name);
  bits.push(visit.sel.prac ? practitionerName(visit.sel.prac) : visit.cfg && visit.cfg.arePractitionersSelectable ? t('anyPractitioner') : null);
  return bits.filter(Boolean).join(' · ');
}

async function loadMonth(view) {
  const k = [visit.sel.loc, visit.sel.type, visit.sel.prac || '', view.y, view.m].join('|');
  if (!visit.months.has(k)) {
    const range = monthRange(view);
    const params = new URLSearchParams({
      startUnix: String(range.startUnix),
      endUnix: String(range.endUnix),
      locationId: String(visit.sel.loc),
      appointmentTypeId: String(visit.sel.type),
    });
    if (visit.sel.prac) params.set('practitionerIds', String(visit.sel.prac));
    visit.months.set(k, api('GET', `/availability?${params}`));
  }
  try {
    const data = await visit.months.get(k);
    for (const p of data.practitioners || []) visit.names[p.practitionerId] = p.displayName;
    return data;
  } catch (e) {
    visit.months.delete(k);
    throw e;
  }
}

/** The first and last months that can hold a bookable time. */
function bounds(tz) {
  const today = zoned(Date.now(), tz);
  const first = { y: today.year, m: today.month };
  const horizon = visit.cfg && visit.cfg.bookingHorizon;
  return { first, last: lastMonth(first, horizon ? horizon.latestUnix : null, (ms) => zoned(ms, tz)) };
}

function stepTime() {
  const tz = zoneOf();
  const { first, last } = bounds(tz);
  if (!visit.view || monthIndex(visit.view) > monthIndex(last)) visit.view = first;
  const calendarArea = h('div', { class: 'sp-calendar-area' });
  const timesArea = h('div', { class: 'sp-times-area', id: 'sp-times' });
  const nextArea = h('div', { class: 'sp-next-area' });
  const back = visit.manage
    ? button(t('back'), () => go('manage'), 'sp-btn sp-secondary')
    : needsChoice() ? button(t('changeChoices'), () => go('service'), 'sp-btn sp-secondary') : null;
  const section = screen(visit.manage ? 'manage-time' : 'time', t(visit.manage ? 'rescheduleTitle' : 'timeTitle'),
    summaryLine() ? para(summaryLine(), 'sp-summary') : null,
    nextArea, calendarArea, timesArea, back ? actions(back) : null);

  let autoAdvance = visit.day ? 0 : 2;
  const show = () => run(null, section, async () => {
    calendarArea.setAttribute('aria-busy', 'true');
    fill(calendarArea, loadingLine(t('loadingTimes')));
    timesArea.replaceChildren();
    announce(t('loadingTimes'));
    if (!visit.manage) await ensureAttempt();
    let data = await loadMonth(visit.view);
    let days = openDays(data, visit.view);
    while (!days.size && autoAdvance > 0 && monthIndex(visit.view) < monthIndex(last)) {
      autoAdvance -= 1;
      visit.view = shift(visit.view, 1);
      data = await loadMonth(visit.view);
      days = openDays(data, visit.view);
    }
    autoAdvance = 0;
    if (!visit.day || !days.has(visit.day)) visit.day = firstOpenDay(days);
    calendarArea.removeAttribute('aria-busy');
    if (!nextArea.firstChild) nextAvailable(nextArea, data, days, tz);
    drawCalendar(calendarArea, timesArea, data, days, { first, last }, show);
    const next = shift(visit.view, 1);
    if (monthIndex(next) <= monthIndex(last)) loadMonth(next).catch(() => {}); // warm the next month
  });
  show();
}

/** "Next available: Tue, Dec 8, 9:30 AM" — the earliest open time, one click away. */
function nextAvailable(area, data, days, tz) {
  const first = visit.view && days.size ? earliestSlot(data) : null;
  if (!first) return;
  const label = `${F.shortDay(first.startUnix, tz)}, ${F.time(first.startUnix, tz)}`;
  fill(area, button(t('nextAvailable', { time: label }), (e) => chooseSlot(slotChoice(first, visit.sel.prac, (typeOf() || {}).durationMinutes), e.currentTarget, area), 'sp-btn sp-next', { id: 'sp-next-available' }));
}

function drawCalendar(area, timesArea, data, days, { first, last }, reload) {
  const view = visit.view;
  const tz = data.timeZone || zoneOf();
  const monthLabel = F.month(view.y, view.m);
  const go_ = (by, nav) => () => {
    visit.view = shift(view, by);
    visit.day = null;
    refocus = nav;
    reload();
  };
  const atEnd = monthIndex(view) >= monthIndex(last);
  const prev = button('‹', go_(-1, 'prev'), 'sp-nav', { 'aria-label': t('prevMonth'), 'data-nav': 'prev', disabled: monthIndex(view) <= monthIndex(first) });
  const next = button('›', go_(1, 'next'), 'sp-nav', { 'aria-label': t('nextMonth'), 'data-nav': 'next', disabled: atEnd });
  const head = h('tr', {});
  for (let i = 0; i < 7; i += 1) {
    const wd = (T.weekStart + i) % 7;
    head.append(h('th', { scope: 'col', abbr: F.weekday(wd, 'long') }, F.weekday(wd, 'short')));
  }
  const buttons = [];
  const todayKey = (() => { const z = zoned(Date.now(), tz); return dayKey(z.year, z.month, z.day); })();
  const focusDay = visit.day && days.has(visit.day) ? visit.day : dayKey(view.y, view.m, 1);
  const body = h('tbody', {});
  const grid = monthGrid(view, T.weekStart);
  for (const week of grid) {
    const row = h('tr', {});
    for (const d of week) {
      if (d === null) { row.append(h('td', {})); continue; }
      const key = dayKey(view.y, view.m, d);
      const open = days.has(key);
      const b = h('button', {
        type: 'button', class: `sp-day${open ? ' sp-open' : ''}`, 'data-day': key,
        'aria-label': `${F.day(Date.UTC(view.y, view.m - 1, d, 12), 'UTC')}, ${t(open ? 'hasOpenings' : 'noOpenings')}`,
        'aria-disabled': open ? null : 'true', 'aria-pressed': open ? String(key === visit.day) : null,
        'aria-current': key === todayKey ? 'date' : null, tabindex: key === focusDay ? '0' : '-1',
        onclick: () => {
          if (!open) { announce(t('noOpeningsDay')); return; }
          visit.day = key;
          for (const other of buttons) {
            if (other.classList.contains('sp-open')) other.setAttribute('aria-pressed', String(other === b));
            other.tabIndex = other === b ? 0 : -1;
          }
          drawTimes(timesArea, data, tz);
        },
      }, String(d));
      buttons.push(b);
      row.append(h('td', {}, b));
    }
    body.append(row);
  }
  const lead = grid[0].indexOf(1);
  const table = h('table', { class: 'sp-grid', 'aria-labelledby': 'sp-month' }, h('thead', {}, head), body);
  table.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7, Home: -((i + lead) % 7), End: 6 - ((i + lead) % 7) };
    if (!(e.key in moves)) return;
    e.preventDefault();
    const j = Math.min(buttons.length - 1, Math.max(0, i + moves[e.key]));
    buttons[i].tabIndex = -1;
    buttons[j].tabIndex = 0;
    buttons[j].focus();
  });
  fill(area, h('div', { class: 'sp-monthbar' }, prev, h('h2', { class: 'sp-month', id: 'sp-month' }, monthLabel), next),
    para(t('calendarHelp'), 'sp-hint'), table);
  if (!days.size) {
    // say why the month is empty, and what the patient can do
    const phone = (locOf() || {}).phone;
    const why = atEnd ? t('noOpeningsHorizon', { month: monthLabel }) : t('noOpeningsMonth', { month: monthLabel });
    area.append(para(why, 'sp-note'));
    if (!atEnd) area.append(actions(button(t('nextMonth'), go_(1, 'next'), 'sp-btn sp-secondary')));
    if (phone) area.append(para(t('orCall', { phone: phoneText(phone) }), 'sp-hint'));
    announce(why);
  } else {
    announce(t('monthOpenings', { month: monthLabel, n: days.size }));
  }
  if (visit.day && days.has(visit.day)) drawTimes(timesArea, data, tz);
  else timesArea.replaceChildren();
  if (refocus) {
    // the month buttons were redrawn: keep keyboard focus where it was
    const nav = area.querySelector(`[data-nav="${refocus}"]`);
    refocus = null;
    (nav && !nav.disabled ? nav : area.querySelector('.sp-day[tabindex="0"]')).focus();
  }
}
let refocus = null;

function drawTimes(area, data, tz) {
  const slots = (data.slotsByDate || {})[visit.day] || [];
  const { y, m, d } = parseKey(visit.day);
  const title = F.day(Date.UTC(y, m - 1, d, 12), 'UTC');
  const at = slots.length ? slots[0].startUnix : Date.now();
  const type = typeOf();
  const mine = browserZone();
  const both = type && type.telehealth && mine && !sameClock(at, tz, mine);
  const list = h('ul', { class: 'sp-times', 'aria-labelledby': 'sp-times-h' });
  for (const slot of slots) {
    const label = both ? [F.time(slot.startUnix, tz), h('span', { class: 'sp-time-local' }, F.time(slot.startUnix, mine))] : F.time(slot.startUnix, tz);
    const aria = both ? t('timeBoth', { time: F.time(slot.startUnix, tz), local: F.time(slot.startUnix, mine) }) : null;
    list.append(h('li', {}, button(label, (e) => chooseSlot(slotChoice(slot, visit.sel.prac, (type || {}).durationMinutes), e.currentTarget, area), 'sp-time', { 'aria-label': aria })));
  }
  fill(area,
    h('h2', { id: 'sp-times-h', class: 'sp-times-title' }, title),
    para(t('zoneNote', { zone: F.zoneName(at, tz), city: cityOf(tz) }), 'sp-zone'),
    both ? para(t('zoneBoth', { zone: F.zoneName(at, mine) }), 'sp-hint') : null,
    list);
  announce(t('timesFor', { n: slots.length, day: title }));
}

/* A time was chosen: in the manage flow, confirm the move; else the contact step comes next
 * (the time is held once a code was sent, as the server requires), or the hold right away
 * when there is nothing to verify or a code went out already. */
function chooseSlot(choice, btn, area) {
  if (visit.manage) {
    go('manage-confirm', choice);
    return;
  }
  run(btn, area, async () => {
    await ensureAttempt();
    chooseTime(choice);
    const codeOut = Object.keys(attempt.sent).length > 0;
    const held = (!attempt.method || codeOut || !attempt.missing.length) && await tryHold(choice);
    if (!held) announce(t('chosen', { time: when(choice.startUnix, zoneOf()) }));
    afterTime();
  }, (e) => lostSlot(e, area, (alt, b) => chooseSlot(alt, b, area)));
}

export function afterTime() {
  if (attempt.method && attempt.missing.length) go('contact');
  else if (!attempt.patient) go('patient');
  else go('review');
}

register('time', stepTime);
register('afterTime', afterTime);
