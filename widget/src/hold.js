/* The hold on the chosen time: how long it has left, when to renew it. Pure (tested with
 * node --test); held.js shows it. */

export const RENEW_BEFORE = 120000; // renew an active patient's hold 2 minutes before it ends
export const ACTIVE_WITHIN = 180000; // "active": a key or pointer in the last 3 minutes

/** Whole seconds the hold has left (0 once lapsed). */
export const secondsLeft = (expiresAt, now) => Math.max(0, Math.ceil((Date.parse(expiresAt) - now) / 1000));

/** 'm:ss' for a countdown. */
export const clock = (seconds) => `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;

/** Whether to renew now: close to the end, still held, and the patient is at the keyboard. */
export function shouldRenew(expiresAt, now, lastActivity) {
  const left = Date.parse(expiresAt) - now;
  return left > 0 && left <= RENEW_BEFORE && now - lastActivity <= ACTIVE_WITHIN;
}
