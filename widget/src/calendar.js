/* Calendar math, pure (tested with node --test): months, the grid of a month, which days have
 * openings, the booking horizon, and the earliest open slot. Days are 'M/d/yyyy' keys in the
 * location's zone, as the availability API answers. */

export const DAY = 86400000;

export const dayKey = (y, m, d) => `${m}/${d}/${y}`;
export const parseKey = (key) => {
  const [m, d, y] = key.split('/').map(Number);
  return { y, m, d };
};
export const monthIndex = (v) => v.y * 12 + v.m;
export function shift(view, by) {
  const n = view.y * 12 + (view.m - 1) + by;
  return { y: Math.floor(n / 12), m: (n % 12) + 1 };
}

/** The query range of one month: a day either side (keys are in the location's zone). */
export function monthRange(view) {
  return { startUnix: Math.max(0, Date.UTC(view.y, view.m - 1, 1) - DAY), endUnix: Date.UTC(view.y, view.m, 1) + DAY };
}

/** Keys of the month's days that have at least one slot. */
export function openDays(data, view) {
  const out = new Set();
  for (const [key, slots] of Object.entries((data && data.slotsByDate) || {})) {
    const { m, y } = parseKey(key);
    if (m === view.m && y === view.y && slots.length) out.add(key);
  }
  return out;
}

export const firstOpenDay = (days) => [...days].sort((a, b) => parseKey(a).d - parseKey(b).d)[0] || null;

/** Weeks of a month for a grid starting on `weekStart` (0 Sunday): rows of day numbers or null. */
export function monthGrid(view, weekStart) {
  const count = new Date(Date.UTC(view.y, view.m, 0)).getUTCDate();
  const lead = (new Date(Date.UTC(view.y, view.m - 1, 1)).getUTCDay() - weekStart + 7) % 7;
  const cells = [...Array(lead).fill(null), ...Array.from({ length: count }, (_, i) => i + 1)];
  while (cells.length % 7) cells.push(null);
  const rows = [];
  for (let i = 0; i < cells.length; i += 7) rows.push(cells.slice(i, i + 7));
  return rows;
}

/** The last month that can hold a bookable time: the horizon's month (in the zone), or
 * `fallbackMonths` after `first` without a forward limit. */
export function lastMonth(first, latestUnix, zonedParts, fallbackMonths = 12) {
  if (latestUnix == null) return shift(first, fallbackMonths);
  const end = zonedParts(latestUnix);
  return { y: end.year, m: end.month };
}

/** The earliest slot of an availability answer (or null). */
export function earliestSlot(data) {
  let best = null;
  for (const slots of Object.values((data && data.slotsByDate) || {})) {
    for (const slot of slots) if (!best || slot.startUnix < best.startUnix) best = slot;
  }
  return best;
}

/** The practitioner and config of a slot: the chosen practitioner when the slot has them,
 * else the first that has it. */
export function slotChoice(slot, chosenPractitioner, durationMinutes) {
  let practitionerId = slot.practitionerId;
  let schedulerConfigId = slot.schedulerConfigId;
  if (slot.practitionerToConfig) {
    const map = slot.practitionerToConfig;
    const id = chosenPractitioner && map[String(chosenPractitioner)] ? String(chosenPractitioner) : Object.keys(map)[0];
    practitionerId = Number(id);
    schedulerConfigId = map[id];
  }
  const startUnix = slot.startUnix || Date.parse(slot.startDateTime);
  const endUnix = slot.endDateTime ? Date.parse(slot.endDateTime) : startUnix + (durationMinutes || 30) * 60000;
  return { startUnix, startDateTime: slot.startDateTime, endUnix, practitionerId, schedulerConfigId };
}

/** Practitioners of the config that can be booked at a location (and for a type); a choice
 * not made yet filters nothing. */
export function practitionersAt(practitioners, locationId, typeId) {
  return practitioners.filter(
    (p) => (!locationId || !p.locationIds || !p.locationIds.length || p.locationIds.includes(locationId))
      && (!typeId || !p.appointmentTypeIds || !p.appointmentTypeIds.length || p.appointmentTypeIds.includes(typeId)),
  );
}
