/* Strings and formatting, pure: no DOM, no globals (tested with node --test). The string
 * table comes from strings.js (one language per frame page); Intl does dates and times. */

/** 'es-MX' -> 'es' when the table has it, else 'en'. */
export function pickLang(value, table) {
  const code = String(value || '').slice(0, 2).toLowerCase();
  return table[code] ? code : 'en';
}

/** The string `name` of `strings` with {placeholders} filled; the name itself if missing. */
export function fillIn(strings, name, vars) {
  let text = name in strings ? strings[name] : name;
  if (vars) text = String(text).replace(/\{(\w+)\}/g, (m, k) => (k in vars ? vars[k] : m));
  return text;
}

const cache = new Map();
/** A cached Intl.DateTimeFormat for a locale, options and zone. */
export function dateFormat(locale, options, timeZone) {
  const id = JSON.stringify([locale, options, timeZone]);
  if (!cache.has(id)) cache.set(id, new Intl.DateTimeFormat(locale, { timeZone, ...options }));
  return cache.get(id);
}

/** The hour (0-23) of an instant in a zone. */
const hourIn = (ms, tz) => Number(dateFormat('en-US', { hour: 'numeric', hourCycle: 'h23' }, tz).format(ms));

/** Formatters of one locale: every time is shown in an explicit zone. `periods`: the
 * language's own words for AM and PM, written in place of Intl's (es-US: ICU writes 'p.m.',
 * the patient's messages 'p. m.'). A time never breaks across lines. */
export function formatters(locale, periods) {
  const f = (options, tz) => dateFormat(locale, options, tz);
  return {
    date: (ms, tz) => f({ weekday: 'long', month: 'long', day: 'numeric', year: 'numeric' }, tz).format(ms),
    day: (ms, tz) => f({ weekday: 'long', month: 'long', day: 'numeric' }, tz).format(ms),
    shortDay: (ms, tz) => f({ weekday: 'short', month: 'short', day: 'numeric' }, tz).format(ms),
    time: (ms, tz) => f({ hour: 'numeric', minute: '2-digit' }, tz).formatToParts(ms)
      .map((p) => (p.type === 'dayPeriod' && periods ? periods[+(hourIn(ms, tz) >= 12)] : p.value)).join('').replace(/ /g, '\u00a0'),
    month: (y, m) => f({ month: 'long', year: 'numeric' }, 'UTC').format(Date.UTC(y, m - 1, 15)),
    weekday: (wd, style) => f({ weekday: style }, 'UTC').format(Date.UTC(2023, 0, 1 + wd)), // 1 Jan 2023: a Sunday
    zoneName(ms, tz) {
      const part = f({ timeZoneName: 'long' }, tz).formatToParts(ms).find((p) => p.type === 'timeZoneName');
      return part ? part.value : tz;
    },
    zoneShort(ms, tz) {
      const part = f({ timeZoneName: 'short' }, tz).formatToParts(ms).find((p) => p.type === 'timeZoneName');
      return part ? part.value : tz;
    },
  };
}

/** {year, month, day} of an instant in a zone. */
export function zoned(ms, tz) {
  const parts = {};
  for (const p of dateFormat('en-US', { year: 'numeric', month: 'numeric', day: 'numeric' }, tz).formatToParts(ms)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return parts;
}

/** Whether two zones show the same wall clock at an instant (no second time needed). */
export function sameClock(ms, a, b) {
  const f = (tz) => dateFormat('en-US', { hour: 'numeric', minute: 'numeric', day: 'numeric' }, tz).format(ms);
  return f(a) === f(b);
}

export const cityOf = (tz) => (tz.split('/').pop() || tz).replace(/_/g, ' ');

/** '100 Main Street, Brooklyn, NY 11201' from a location's address. */
export function address(loc) {
  const a = loc && loc.address;
  if (!a) return '';
  const cityLine = [a.city, [a.state, a.postalCode].filter(Boolean).join(' ')].filter(Boolean).join(', ');
  return [a.line1, a.line2, cityLine].filter(Boolean).join(', ');
}

/** '+12125550100' -> '(212) 555-0100'; anything else as given. */
export function phoneText(raw) {
  const digits = String(raw || '').replace(/\D/g, '');
  const m = /^1?([2-9]\d{2})([2-9]\d{2})(\d{4})$/.exec(digits);
  if (!m || (String(raw).trim().startsWith('+') && !digits.startsWith('1'))) return String(raw || '');
  return `(${m[1]}) ${m[2]}-${m[3]}`;
}

/** 'tel:+12125550100', or null. */
export function phoneHref(raw) {
  const digits = String(raw || '').replace(/\D/g, '');
  if (digits.length < 7) return null;
  return `tel:+${!String(raw).trim().startsWith('+') && digits.length === 10 ? `1${digits}` : digits}`;
}
