/* What the widget knows, in two parts with named changes: the visit being chosen (config,
 * choices, calendar) and the attempt (token, contact, hold, patient, booking). The attempt
 * token is secret and stays in this frame (memory, and sessionStorage to survive a reload);
 * what the patient types never leaves it except to our own API. */

const query = new URLSearchParams(location.search);

export const visit = {
  key: query.get('key') || '',
  mode: query.get('mode') === 'modal' ? 'modal' : 'inline',
  cfg: null,
  sel: { type: null, loc: null, prac: null },
  view: null, // {y, m}: the month shown
  day: null, // 'M/d/yyyy': the chosen day
  months: new Map(), // availability answers (promises) per choice and month
  names: {}, // practitioner id -> display name, from availability answers
  manage: null, // {token, data}: the manage page
};

export const attempt = {
  token: null,
  method: null, // the setting's verification method
  missing: [], // channels still to verify
  sent: {}, // channel -> {to, at}
  resendAt: 0,
  slot: null, // the chosen time: {startUnix, startDateTime, endUnix, practitionerId, schedulerConfigId}
  hold: null, // {expiresAt} once the chosen time is held
  patient: null, // {firstName, lastName} once set
  draft: null, // the patient form as typed
  booked: null,
  upcomingChecked: false,
};

export const idemKeys = new Map();

const STORE = 'slotproof.attempt';

/** The attempt token of this tab, kept across a reload (never PHI: only the token and the
 * setting it belongs to). sessionStorage is this frame's own (the widget's origin). */
export function remember(token) {
  attempt.token = token;
  try {
    sessionStorage.setItem(STORE, JSON.stringify({ key: visit.key, token }));
  } catch {
    /* storage blocked: the attempt simply does not survive a reload */
  }
}

export function recalled() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE) || 'null');
    return saved && saved.key === visit.key ? saved.token : null;
  } catch {
    return null;
  }
}

export function forgetAttempt() {
  Object.assign(attempt, { token: null, missing: [], sent: {}, resendAt: 0, slot: null, hold: null, patient: null, booked: null, upcomingChecked: false });
  visit.months.clear();
  idemKeys.clear();
  try {
    sessionStorage.removeItem(STORE);
  } catch {
    /* nothing kept */
  }
}

export function chooseTime(slot) {
  attempt.slot = slot;
  attempt.hold = null;
}

export const byId = (list, id) => (list || []).find((x) => x.id === id) || null;
export const typeOf = () => (visit.manage ? visit.manage.data.appointmentType : byId(visit.cfg.appointmentTypes, visit.sel.type));
export const locOf = () => (visit.manage ? visit.manage.data.location : byId(visit.cfg.locations, visit.sel.loc));
export const zoneOf = () => (locOf() || {}).timeZone || 'UTC';
export function practitionerName(id) {
  if (visit.manage && visit.manage.data.practitioner.id === id) return visit.manage.data.practitioner.displayName;
  const p = visit.cfg && byId(visit.cfg.practitioners, id);
  return p ? p.displayName : visit.names[id] || '';
}
