import assert from 'node:assert/strict';
import test from 'node:test';
import {
  dayKey, earliestSlot, firstOpenDay, lastMonth, monthGrid, monthIndex, monthRange, openDays, practitionersAt, shift, slotChoice,
} from '../src/calendar.js';
import { zoned } from '../src/text.js';

test('months shift across years', () => {
  assert.deepEqual(shift({ y: 2026, m: 12 }, 1), { y: 2027, m: 1 });
  assert.deepEqual(shift({ y: 2026, m: 1 }, -1), { y: 2025, m: 12 });
  assert.ok(monthIndex({ y: 2027, m: 1 }) > monthIndex({ y: 2026, m: 12 }));
});

test('a month is queried with a day either side', () => {
  const r = monthRange({ y: 2026, m: 3 });
  assert.equal(r.startUnix, Date.UTC(2026, 1, 28));
  assert.equal(r.endUnix, Date.UTC(2026, 3, 2));
});

test('the grid of a month starts on the week start', () => {
  const sunday = monthGrid({ y: 2026, m: 3 }, 0); // 1 March 2026 is a Sunday
  assert.deepEqual(sunday[0], [1, 2, 3, 4, 5, 6, 7]);
  const monday = monthGrid({ y: 2026, m: 3 }, 1);
  assert.deepEqual(monday[0], [null, null, null, null, null, null, 1]);
  assert.equal(monday.at(-1).filter(Boolean).at(-1), 31);
  assert.ok(monday.every((week) => week.length === 7));
});

test('open days are the month’s keys with slots, earliest first', () => {
  const data = { slotsByDate: { '3/9/2026': [{ startUnix: 2 }], '3/3/2026': [{ startUnix: 1 }], '4/1/2026': [{ startUnix: 3 }], '3/4/2026': [] } };
  const days = openDays(data, { y: 2026, m: 3 });
  assert.deepEqual([...days].sort(), ['3/3/2026', '3/9/2026']);
  assert.equal(firstOpenDay(days), '3/3/2026');
  assert.equal(firstOpenDay(new Set()), null);
  assert.equal(dayKey(2026, 3, 9), '3/9/2026');
});

test('the last month is the booking horizon’s, in the location’s zone', () => {
  const first = { y: 2026, m: 12 };
  // 60 days after 7 Dec 2026: 5 Feb 2027 — never page into March
  const latest = Date.UTC(2027, 1, 5, 12);
  assert.deepEqual(lastMonth(first, latest, (ms) => zoned(ms, 'America/Los_Angeles')), { y: 2027, m: 2 });
  // 1 March 00:30 UTC is still 28 February in Los Angeles
  assert.deepEqual(lastMonth(first, Date.UTC(2027, 2, 1, 0, 30), (ms) => zoned(ms, 'America/Los_Angeles')), { y: 2027, m: 2 });
  assert.deepEqual(lastMonth(first, null, () => null), { y: 2027, m: 12 });
});

test('next available is the earliest slot of the answer', () => {
  const data = { slotsByDate: { '3/9/2026': [{ startUnix: 20 }, { startUnix: 30 }], '3/3/2026': [{ startUnix: 10 }] } };
  assert.equal(earliestSlot(data).startUnix, 10);
  assert.equal(earliestSlot({ slotsByDate: {} }), null);
});

test('a slot keeps the chosen practitioner when it has them', () => {
  const slot = { startUnix: 1000, startDateTime: 'x', practitionerToConfig: { 7: 70, 8: 80 } };
  assert.deepEqual(slotChoice(slot, 8, 30), { startUnix: 1000, startDateTime: 'x', endUnix: 1000 + 1800000, practitionerId: 8, schedulerConfigId: 80 });
  assert.equal(slotChoice(slot, null, 30).practitionerId, 7);
  assert.equal(slotChoice(slot, 9, 30).practitionerId, 7);
  assert.equal(slotChoice({ ...slot, practitionerToConfig: undefined, practitionerId: 5, schedulerConfigId: 50 }, null, 15).schedulerConfigId, 50);
});

test('only practitioners who work at the location (and do the type) are offered', () => {
  const list = [
    { id: 1, locationIds: [10, 20], appointmentTypeIds: [100] },
    { id: 2, locationIds: [10], appointmentTypeIds: [100, 200] },
    { id: 3, locationIds: [20], appointmentTypeIds: [200] },
  ];
  assert.deepEqual(practitionersAt(list, 20, null).map((p) => p.id), [1, 3]);
  assert.deepEqual(practitionersAt(list, 20, 200).map((p) => p.id), [3]);
  assert.deepEqual(practitionersAt(list, 10, 100).map((p) => p.id), [1, 2]);
  assert.deepEqual(practitionersAt([{ id: 4 }], 10, 100).map((p) => p.id), [4]); // no data: not filtered
  assert.deepEqual(practitionersAt(list, null, null).map((p) => p.id), [1, 2, 3]); // nothing chosen yet
});
