import assert from 'node:assert/strict';
import test from 'node:test';
import { codeOk, emailOk, isoDate, phoneOk } from '../src/checks.js';
import { clock, secondsLeft, shouldRenew } from '../src/hold.js';
import { fold, ics } from '../src/ics.js';
import { contrast, themeVars } from '../src/theme.js';

test('dates of birth', () => {
  const now = Date.UTC(2026, 11, 7);
  assert.equal(isoDate({ y: '1990', m: '2', d: '3' }, now), '1990-02-03');
  assert.equal(isoDate({ y: '1990', m: '2', d: '30' }, now), null);
  assert.equal(isoDate({ y: '1899', m: '1', d: '1' }, now), null);
  assert.equal(isoDate({ y: '2027', m: '1', d: '1' }, now), null);
  assert.equal(isoDate({ y: '90', m: '1', d: '1' }, now), null);
});

test('contacts and codes', () => {
  assert.ok(emailOk('a@b.co') && !emailOk('a@b') && !emailOk('a b@c.de'));
  assert.ok(phoneOk('(212) 555-0100') && !phoneOk('555-0100'));
  assert.ok(codeOk('123456') && !codeOk('12345') && !codeOk('12345a'));
});

test('the hold counts down and is renewed only for an active patient near its end', () => {
  const end = '2026-12-07T10:10:00Z';
  const t = Date.parse(end);
  assert.equal(secondsLeft(end, t - 61500), 62);
  assert.equal(secondsLeft(end, t + 5), 0);
  assert.equal(clock(62), '1:02');
  assert.equal(clock(600), '10:00');
  assert.equal(shouldRenew(end, t - 60000, t - 70000), true);
  assert.equal(shouldRenew(end, t - 300000, t - 300000), false); // not near the end yet
  assert.equal(shouldRenew(end, t - 60000, t - 600000), false); // nobody at the keyboard
  assert.equal(shouldRenew(end, t + 1000, t), false); // lapsed: say so instead
});

test('the .ics folds at 75 octets and escapes', () => {
  const text = ics({ uid: 'appointment-7@x', start: Date.UTC(2026, 2, 9, 13), end: Date.UTC(2026, 2, 9, 13, 30), summary: 'Visit; a, b', where: 'Brooklyn', description: 'ñ'.repeat(80), now: 0 });
  assert.ok(text.includes('DTSTART:20260309T130000Z\r\nDTEND:20260309T133000Z'));
  assert.ok(text.includes('SUMMARY:Visit\\; a\\, b'));
  for (const line of text.split('\r\n')) assert.ok(new TextEncoder().encode(line).length <= 75, line);
  assert.equal(fold('a'.repeat(80)).split('\r\n ').length, 2);
});

test('theme colours keep AA contrast', () => {
  const vars = themeVars({ primaryColor: '#ffeb3b', cornerRadius: 99, fontFamily: 'x; y' });
  assert.ok(contrast(vars['--sp-primary'], vars['--sp-on-primary']) >= 4.5);
  assert.ok(contrast(vars['--sp-accent'], '#ffffff') >= 4.5);
  assert.equal(vars['--sp-radius'], '32px');
  assert.equal(vars['--sp-font'], undefined);
  assert.equal(themeVars({})['--sp-primary'], '#0b5cab');
});
