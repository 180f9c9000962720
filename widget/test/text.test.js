import assert from 'node:assert/strict';
import test from 'node:test';
import { address, cityOf, fillIn, formatters, phoneHref, phoneText, pickLang, sameClock, zoned } from '../src/text.js';

const plain = (s) => s.replace(/[\u202f\xa0]/g, ' ');

test('languages and placeholders', () => {
  const table = { en: {}, es: {} };
  assert.equal(pickLang('es-MX', table), 'es');
  assert.equal(pickLang('fr', table), 'en');
  assert.equal(pickLang('', table), 'en');
  assert.equal(fillIn({ hi: 'Hi {name}, {missing}' }, 'hi', { name: 'Ana' }), 'Hi Ana, {missing}');
  assert.equal(fillIn({}, 'absent'), 'absent');
});

test('times are shown in the location’s zone, in the language', () => {
  const at = Date.UTC(2026, 11, 2, 14, 45);
  const en = formatters('en-US');
  assert.equal(en.date(at, 'America/New_York'), 'Wednesday, December 2, 2026');
  assert.equal(plain(en.time(at, 'America/New_York')), '9:45 AM');
  assert.equal(plain(en.time(at, 'America/Los_Angeles')), '6:45 AM');
  assert.equal(en.zoneName(at, 'America/New_York'), 'Eastern Standard Time');
  assert.equal(en.month(2027, 2), 'February 2027');
  const es = formatters('es-US');
  assert.equal(es.date(at, 'America/New_York'), 'miércoles, 2 de diciembre de 2026');
  assert.deepEqual(zoned(Date.UTC(2026, 2, 1, 4), 'America/Los_Angeles'), { year: 2026, month: 2, day: 28 });
});

test('Spanish times are 12-hour, written as the patient’s messages write them', () => {
  const es = formatters('es-US', ['a. m.', 'p. m.']);
  const ny = 'America/New_York';
  const at = (h, m) => es.time(Date.UTC(2026, 11, 2, h + 5, m), ny); // EST: UTC-5
  assert.equal(plain(at(14, 30)), '2:30 p. m.');
  assert.equal(plain(at(9, 5)), '9:05 a. m.');
  assert.equal(plain(at(12, 0)), '12:00 p. m.');
  assert.equal(plain(at(0, 15)), '12:15 a. m.');
  assert.doesNotMatch(at(14, 30), / /); // never broken across lines: '2:30' / 'p.' / 'm.'
  assert.equal(plain(formatters('en-US', ['AM', 'PM']).time(Date.UTC(2026, 11, 2, 19, 30), ny)), '2:30 PM');
});

test('a video visit shows the patient’s own time only when it differs', () => {
  const at = Date.UTC(2026, 11, 2, 14, 45);
  assert.equal(sameClock(at, 'America/New_York', 'America/Toronto'), true);
  assert.equal(sameClock(at, 'America/New_York', 'Europe/Berlin'), false);
});

test('addresses, cities and phones', () => {
  assert.equal(address({ address: { line1: '100 Main Street', city: 'Brooklyn', state: 'NY', postalCode: '11201' } }), '100 Main Street, Brooklyn, NY 11201');
  assert.equal(address({}), '');
  assert.equal(cityOf('America/Los_Angeles'), 'Los Angeles');
  assert.equal(phoneText('+12125550100'), '(212) 555-0100');
  assert.equal(phoneText('+44 20 7123 4567'), '+44 20 7123 4567');
  assert.equal(phoneHref('+12125550100'), 'tel:+12125550100');
  assert.equal(phoneHref('212-555-0100'), 'tel:+12125550100');
  assert.equal(phoneHref('12'), null);
});
