/* An .ics file (RFC 5545) for the booked visit, built in the frame: nothing about the visit
 * leaves it. Pure (tested with node --test). The UID matches the one in the emails. */

const stamp = (ms) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
const esc = (s) => String(s).replace(/[\\;,]/g, (m) => `\\${m}`).replace(/\r?\n/g, '\\n');

/** A line folded at 75 octets (CRLF + space), never inside a character. */
export function fold(line) {
  const enc = new TextEncoder();
  let out = '';
  let size = 0;
  for (const ch of line) {
    const n = enc.encode(ch).length;
    if (size + n > 75) {
      out += '\r\n ';
      size = 1;
    }
    out += ch;
    size += n;
  }
  return out;
}

export function ics({ uid, start, end, summary, where, description, now = Date.now() }) {
  const lines = [
    'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//slotproof//widget//EN', 'CALSCALE:GREGORIAN', 'METHOD:PUBLISH',
    'BEGIN:VEVENT', `UID:${uid}`, `SEQUENCE:${Math.floor(now / 1000)}`, `DTSTAMP:${stamp(now)}`,
    `DTSTART:${stamp(start)}`, `DTEND:${stamp(end)}`, `SUMMARY:${esc(summary)}`,
    where ? `LOCATION:${esc(where)}` : null, description ? `DESCRIPTION:${esc(description)}` : null,
    'END:VEVENT', 'END:VCALENDAR',
  ];
  return `${lines.filter(Boolean).map(fold).join('\r\n')}\r\n`;
}
