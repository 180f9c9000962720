/* What the patient typed, checked before it is sent. Pure (tested with node --test). */

export const emailOk = (value) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);
export const phoneOk = (value) => value.replace(/\D/g, '').length >= 10;
export const codeOk = (value) => /^\d{6}$/.test(value);

/** 'YYYY-MM-DD' from month / day / year fields, or null (not a date, before 1900, future). */
export function isoDate({ y, m, d }, now = Date.now()) {
  if (!/^\d{4}$/.test(y) || !/^\d{1,2}$/.test(m) || !/^\d{1,2}$/.test(d)) return null;
  const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
  if (date.getUTCMonth() !== Number(m) - 1 || date.getUTCDate() !== Number(d)) return null;
  if (Number(y) < 1900 || date.getTime() > now) return null;
  return date.toISOString().slice(0, 10);
}
