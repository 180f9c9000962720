/* slotproof booking widget: the page inside the iframe (GET /widget/v1/frame).
 *
 * Native ES modules, no build step: this module boots, the steps live in steps/, the pure
 * parts (text.js, calendar.js, checks.js, theme.js, ics.js, hold.js) are tested with
 * node --test. Talks only to its own origin (/widget/v1/*), keeps the patient's answers in
 * this frame and tells the host page only what the contract allows. Every string comes from
 * strings.js. Under a strict CSP: no inline script, no style attributes (theme values go
 * through CSS custom properties set with the CSSOM). */
import { api } from './api.js';
import { announce, fill, h, loadingScreen, main } from './dom.js';
import { explain, go, needsChoice, register, run, screen } from './flow.js';
import { listen, ready } from './host.js';
import { lang, t } from './i18n.js';
import { attempt, forgetAttempt, recalled, visit } from './state.js';
import { themeVars } from './theme.js';
import './steps/service.js';
import './steps/time.js';
import './steps/contact.js';
import './steps/patient.js';
import './steps/review.js';
import './steps/done.js';
import './steps/manage.js';

const brand = document.getElementById('sp-brand');

function applyTheme(theme) {
  for (const [name, value] of Object.entries(themeVars(theme))) document.documentElement.style.setProperty(name, value);
}

function showBrand() {
  const c = visit.cfg;
  applyTheme(c ? c.theme : {});
  if (!c) return;
  const logo = c.theme && c.theme.logoUrl;
  fill(brand,
    typeof logo === 'string' && /^https:\/\//.test(logo) ? h('img', { src: logo, alt: '', class: 'sp-logo' }) : null,
    h('p', { class: 'sp-practice' }, c.practiceName));
  brand.hidden = false;
}

/** A reload mid-flow: pick the attempt up where it was (its hold, verification, patient). */
async function resume() {
  const token = recalled();
  if (!token) return false;
  attempt.token = token;
  try {
    const r = await api('GET', '/attempt');
    if (['BOOKED', 'ABANDONED'].includes(r.status)) throw new Error('finished');
    attempt.missing = r.missingVerifications || [];
    if (r.patient) attempt.patient = { firstName: r.patient.firstName, lastName: r.patient.lastName };
    if (!r.hold) return false;
    visit.sel.type = r.hold.appointmentTypeId;
    visit.sel.loc = r.hold.locationId;
    attempt.slot = { startUnix: r.hold.startUnix, startDateTime: r.hold.startDateTime, endUnix: r.hold.endUnix, practitionerId: r.hold.practitionerId, schedulerConfigId: r.hold.schedulerConfigId };
    attempt.hold = { expiresAt: r.hold.expiresAt };
    if (attempt.missing.length) attempt.sent = {}; // the contact is retyped (it is not kept)
    return true;
  } catch {
    forgetAttempt();
    return false;
  }
}

function loadConfig() {
  loadingScreen();
  run(null, main, async () => {
    visit.cfg = await api('GET', '/config');
    showBrand();
    attempt.method = visit.cfg.verificationMethod || null;
    const c = visit.cfg;
    visit.sel.type = c.fixedAppointmentTypeId || (c.appointmentTypes.length === 1 ? c.appointmentTypes[0].id : null);
    visit.sel.loc = c.fixedLocationId || (c.locations.length === 1 ? c.locations[0].id : null);
    ready();
    if (await resume()) {
      announce(t('resumed'));
      go('afterTime');
    } else if (needsChoice()) go('service');
    else go('time');
  }, (e) => {
    explain(e, screen('error', t('errTitle')), loadConfig);
    ready();
    return true;
  });
}

document.documentElement.lang = lang;
document.title = t('title');
listen((online) => announce(t(online ? 'online' : 'offline')));
register('boot', loadConfig);
const manageToken = new URLSearchParams(location.hash.slice(1)).get('manage');
if (manageToken) go('manage-boot', manageToken, showBrand);
else loadConfig();
