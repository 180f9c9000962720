/* slotproof booking widget: the page inside the iframe (GET /widget/v1/frame).
 *
 * Dependency-free. Talks only to its own origin (/widget/v1/*), keeps the patient's answers in
 * memory inside the frame, and tells the host page only what the contract allows
 * (slotproof:ready / step / booked / resize; never PHI). Every user-facing string comes from
 * strings.js (English and Spanish). Under a strict CSP: no inline script, no inline style
 * attributes (theme values go through CSS custom properties set with the CSSOM). */
(() => {
  'use strict';

  const API = '/widget/v1';
  const DAY = 86400000;
  const CODE_TTL = 10 * 60000; // codes are valid 10 minutes (contract)
  const RESEND_WAIT = 60000; // one send per contact per minute (contract)
  const MONTHS_AHEAD = 12;

  const ALL = self.SlotproofStrings;
  const query = new URLSearchParams(location.search);
  const fragment = new URLSearchParams(location.hash.slice(1));
  const mode = query.get('mode') === 'modal' ? 'modal' : 'inline';
  const lang = pickLang(query.get('lang') || navigator.language);
  const T = ALL[lang];

  const main = document.getElementById('sp-main');
  const liveRegion = document.getElementById('sp-status');
  const brand = document.getElementById('sp-brand');
  const root = document.getElementById('sp');

  const S = {
    key: query.get('key') || '',
    token: null, // attempt token (secret, memory only)
    cfg: null,
    sel: { type: null, loc: null, prac: null },
    view: null, // {y, m} month shown
    day: null, // 'M/d/yyyy' chosen day
    months: new Map(),
    slot: null, // the chosen slot: {startUnix, startDateTime, endUnix, practitionerId, schedulerConfigId}
    hold: null,
    method: null,
    missing: [],
    sent: {}, // channel -> {to, at}
    resendAt: 0,
    patient: null,
    patientDraft: null,
    booked: null,
    names: {}, // practitioner id -> display name, from availability responses
    refocus: null, // 'prev' | 'next': the month button to focus after a month loads
    manage: null, // {token, data}
    timer: 0,
  };
  const idemKeys = new Map();
  let step = '';
  let interacted = false;

  /* ---------- strings, formatting ---------- */

  function pickLang(value) {
    const code = String(value || '').slice(0, 2).toLowerCase();
    return ALL[code] ? code : 'en';
  }

  function t(name, vars) {
    let text = name in T ? T[name] : ALL.en[name];
    if (text === undefined) text = name;
    if (vars) text = text.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? vars[k] : m));
    return text;
  }

  const formatters = new Map();
  function fmt(options, tz) {
    const id = JSON.stringify([options, tz]);
    if (!formatters.has(id)) formatters.set(id, new Intl.DateTimeFormat(T.locale, { timeZone: tz, ...options }));
    return formatters.get(id);
  }
  const fDate = (ms, tz) => fmt({ weekday: 'long', month: 'long', day: 'numeric', year: 'numeric' }, tz).format(ms);
  const fDay = (ms, tz) => fmt({ weekday: 'long', month: 'long', day: 'numeric' }, tz).format(ms);
  const fTime = (ms, tz) => fmt({ hour: 'numeric', minute: '2-digit' }, tz).format(ms);
  const fMonth = (y, m) => fmt({ month: 'long', year: 'numeric' }, 'UTC').format(Date.UTC(y, m - 1, 15));
  function zoneName(ms, tz) {
    const part = fmt({ timeZoneName: 'long' }, tz).formatToParts(ms).find((p) => p.type === 'timeZoneName');
    return part ? part.value : tz;
  }
  function zoned(ms, tz) {
    const parts = {};
    for (const p of fmt({ year: 'numeric', month: 'numeric', day: 'numeric' }, tz).formatToParts(ms)) {
      if (p.type !== 'literal') parts[p.type] = Number(p.value);
    }
    return parts;
  }
  const dayKey = (y, m, d) => `${m}/${d}/${y}`;
  const when = (ms, tz) => t('dateAtTime', { date: fDate(ms, tz), time: fTime(ms, tz) });

  /* ---------- DOM ---------- */

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }
  /** Replace an element's children (null / false children are skipped, as in h()). */
  const fill = (el, ...children) => el.replaceChildren(...children.flat().filter((c) => c != null && c !== false));
  const button = (label, onclick, cls = 'sp-btn', props = {}) =>
    h('button', { type: 'button', class: cls, onclick, ...props }, label);
  const para = (text, cls) => h('p', { class: cls }, text);

  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

  function field(label, input, hint) {
    const id = input.id || (input.id = nextId('sp-f'));
    const err = h('p', { class: 'sp-error', id: `${id}-err`, hidden: true });
    const hintEl = hint ? h('p', { class: 'sp-hint', id: `${id}-hint` }, hint) : null;
    input.setAttribute('aria-describedby', [hintEl && hintEl.id, err.id].filter(Boolean).join(' '));
    return h('div', { class: 'sp-field' }, h('label', { for: id }, label), hintEl, input, err);
  }

  function setError(input, message) {
    const err = document.getElementById(`${input.id}-err`);
    if (message) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
    if (err) {
      err.textContent = message || '';
      err.hidden = !message;
    }
    return !message;
  }

  function announce(message) {
    liveRegion.textContent = '';
    requestAnimationFrame(() => {
      liveRegion.textContent = message;
    });
  }

  function busy(el, on) {
    if (!el) return;
    el.disabled = on;
    if (on) el.setAttribute('aria-busy', 'true');
    else el.removeAttribute('aria-busy');
  }

  function alertBox(area, message, actions) {
    clearAlert(area);
    const box = h('div', { class: 'sp-alert', role: 'alert' }, para(message), actions && actions.length ? h('div', { class: 'sp-actions' }, actions) : null);
    area.prepend(box);
    return box;
  }
  function clearAlert(area) {
    for (const old of area.querySelectorAll(':scope > .sp-alert')) old.remove();
  }

  /* One screen per step: a section labelled by its heading, which takes focus (after the
   * patient has interacted, so the host page's own focus is never stolen on load). */
  function screen(name, title, ...body) {
    clearInterval(S.timer);
    const heading = h('h2', { id: 'sp-title', class: 'sp-title', tabindex: '-1' }, title);
    const count = progress(name);
    const section = h('section', { class: 'sp-step', 'aria-labelledby': 'sp-title', 'data-step': name }, heading, count, ...body);
    main.replaceChildren(section);
    main.removeAttribute('aria-busy');
    if (interacted) heading.focus();
    if (name !== step) {
      step = name;
      emit('slotproof:step', { step: name });
    }
    return section;
  }

  function progress(name) {
    if (S.manage) return null;
    const flow = [];
    if (needsChoice()) flow.push('service');
    flow.push('time');
    if (S.method) flow.push('contact');
    flow.push('patient', 'review');
    const i = flow.indexOf(name);
    return i < 0 ? null : para(t('stepOf', { n: i + 1, total: flow.length }), 'sp-progress');
  }

  function loadingScreen() {
    main.setAttribute('aria-busy', 'true');
    main.replaceChildren(h('div', { class: 'sp-spinner', role: 'img', 'aria-label': t('loading') }));
  }

  /* ---------- host messages ---------- */

  const ancestor = location.ancestorOrigins && location.ancestorOrigins[0];
  const hostOrigin = ancestor && ancestor !== 'null' ? ancestor : '*';
  function emit(type, data) {
    if (parent !== self) parent.postMessage({ type, ...data }, hostOrigin);
  }
  let readySent = false;
  let lastHeight = 0;
  function reportHeight() {
    const height = Math.ceil(root.getBoundingClientRect().height);
    if (readySent && height !== lastHeight) {
      lastHeight = height;
      emit('slotproof:resize', { height });
    }
  }
  function ready() {
    if (readySent) return;
    readySent = true;
    emit('slotproof:ready', {});
    reportHeight();
  }
  new ResizeObserver(reportHeight).observe(root);

  addEventListener('message', (e) => {
    // the loader asks to wrap focus into the frame (modal focus trap, Shift+Tab)
    if (e.source !== parent || !e.data || e.data.type !== 'slotproof:focus') return;
    const all = [...document.querySelectorAll('button:not([disabled]), a[href], input:not([disabled]), select, [tabindex="0"]')];
    const target = e.data.edge === 'last' ? all[all.length - 1] : all[0];
    window.focus();
    if (target) target.focus();
  });
  addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && mode === 'modal') emit('slotproof:close', {});
  });
  for (const type of ['keydown', 'pointerdown']) addEventListener(type, () => (interacted = true), true);
  addEventListener('offline', () => announce(t('offline')));
  addEventListener('online', () => announce(t('online')));

  /* ---------- API ---------- */

  class ApiError extends Error {
    constructor(status, code, body) {
      super(code);
      this.status = status;
      this.code = code;
      this.body = body || {};
    }
    get transient() {
      return this.status === 0 || this.status >= 500 || this.code === 'idempotency_key_in_flight';
    }
  }

  /* POSTs that change state carry an Idempotency-Key: a retry after a lost response replays
   * the first answer instead of booking twice; a new key once an answer was received. */
  async function api(method, path, body, { idem = false } = {}) {
    const headers = { Accept: 'application/json' };
    if (S.key) headers['X-Widget-Key'] = S.key;
    if (S.token) headers.Authorization = `Bearer ${S.token}`;
    let idemId = null;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (idem) {
      idemId = `${path} ${payload}`;
      if (!idemKeys.has(idemId)) idemKeys.set(idemId, crypto.randomUUID());
      headers['Idempotency-Key'] = idemKeys.get(idemId);
    }
    let res;
    try {
      res = await fetch(API + path, { method, headers, body: payload, credentials: 'omit', cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'network');
    }
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    // an answer arrived: the next try is a new request (a key in flight is kept for the retry)
    if (idem && res.status < 500 && !(data && data.code === 'idempotency_key_in_flight')) idemKeys.delete(idemId);
    if (!res.ok) throw new ApiError(res.status, (data && data.code) || `http_${res.status}`, data);
    return data;
  }

  const SESSION_CODES = ['invalid_attempt_token', 'attempt_abandoned', 'attempt_finished', 'proof_expired'];

  /* Run an action; on failure show a message in `area` with a way forward (try again, or
   * start over): never a dead end. `handle(e)` returns true when it dealt with the error. */
  async function run(btn, area, action, handle) {
    busy(btn, true);
    clearAlert(area);
    try {
      return await action();
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, 'client');
      if (!(err instanceof ApiError)) console.error(err); // eslint-disable-line no-console
      if (handle && handle(e)) return undefined;
      explain(e, area, () => run(btn, area, action, handle));
      return undefined;
    } finally {
      busy(btn, false);
    }
  }

  function explain(e, area, again) {
    const retry = button(t('tryAgain'), again);
    if (e.transient) {
      alertBox(area, t(e.status === 0 ? 'errNetwork' : 'errServer'), [retry]);
    } else if (SESSION_CODES.includes(e.code)) {
      alertBox(area, t('errSession'), [button(t('startOver'), startOver)]);
    } else if (e.code === 'invalid_widget_key') {
      alertBox(area, t('errKey'), [retry]);
    } else if (e.code === 'setting_inactive') {
      alertBox(area, t('errInactive'), [retry]);
    } else if (e.status === 429) {
      alertBox(area, t('errBusy'), [retry]);
    } else {
      alertBox(area, t('errGeneric'), [retry, S.manage ? null : button(t('startOver'), startOver, 'sp-btn sp-secondary')]);
    }
  }

  /* ---------- theme ---------- */

  function rgb(hex) {
    const n = parseInt(hex.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  function luminance(hex) {
    const [r, g, b] = rgb(hex).map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  function contrast(a, b) {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  }
  function darken(hex) {
    return `#${rgb(hex).map((v) => Math.round(v * 0.9).toString(16).padStart(2, '0')).join('')}`;
  }

  /* Theme colours are adjusted, never trusted: text on the primary colour and the accent used
   * for text on white both keep WCAG AA contrast (4.5:1) whatever the practice picked. */
  function applyTheme(theme) {
    const th = theme || {};
    const style = document.documentElement.style;
    let primary = /^#[0-9a-f]{6}$/i.test(th.primaryColor || '') ? th.primaryColor.toLowerCase() : '#0b5cab';
    let onPrimary = '#ffffff';
    if (contrast(primary, '#ffffff') < 4.5) {
      if (contrast(primary, '#111111') >= 4.5) onPrimary = '#111111';
      else while (contrast(primary, '#ffffff') < 4.5) primary = darken(primary);
    }
    let accent = primary;
    while (contrast(accent, '#ffffff') < 4.5) accent = darken(accent);
    style.setProperty('--sp-primary', primary);
    style.setProperty('--sp-on-primary', onPrimary);
    style.setProperty('--sp-accent', accent);
    if (typeof th.fontFamily === 'string' && /^[A-Za-z0-9 ,'-]{1,100}$/.test(th.fontFamily)) {
      style.setProperty('--sp-font', `${th.fontFamily}, system-ui, sans-serif`);
    }
    if (Number.isInteger(th.cornerRadius)) {
      style.setProperty('--sp-radius', `${Math.min(32, Math.max(0, th.cornerRadius))}px`);
    }
  }

  function showBrand() {
    const c = S.cfg;
    if (!c) return;
    const logo = c.theme && c.theme.logoUrl;
    fill(brand,
      typeof logo === 'string' && /^https:\/\//.test(logo) ? h('img', { src: logo, alt: '', class: 'sp-logo' }) : null,
      h('p', { class: 'sp-practice' }, c.practiceName),
    );
    brand.hidden = false;
  }

  /* ---------- lookups ---------- */

  const byId = (list, id) => (list || []).find((x) => x.id === id) || null;
  const typeOf = () => (S.manage ? S.manage.data.appointmentType : byId(S.cfg.appointmentTypes, S.sel.type));
  const locOf = () => (S.manage ? S.manage.data.location : byId(S.cfg.locations, S.sel.loc));
  const zoneOf = () => (locOf() || {}).timeZone || 'UTC';
  function practitionerName(id) {
    if (S.manage && S.manage.data.practitioner.id === id) return S.manage.data.practitioner.displayName;
    const p = S.cfg && byId(S.cfg.practitioners, id);
    return p ? p.displayName : S.names[id] || '';
  }
  function address(loc) {
    const a = loc && loc.address;
    if (!a) return '';
    const cityLine = [a.city, [a.state, a.postalCode].filter(Boolean).join(' ')].filter(Boolean).join(', ');
    return [a.line1, a.line2, cityLine].filter(Boolean).join(', ');
  }
  function place(type, loc) {
    if (type && type.telehealth) return t('telehealthPlace');
    return [loc && loc.name, address(loc)].filter(Boolean).join(' — ');
  }
  function typeName(type) {
    return S.cfg && !S.cfg.appointmentTypeVisible ? t('appointment') : (type && type.name) || t('appointment');
  }

  /* ---------- boot ---------- */

  document.documentElement.lang = lang;
  document.title = t('title');

  function boot() {
    const manageToken = fragment.get('manage');
    const offerToken = fragment.get('offer');
    if (manageToken) bootManage(manageToken);
    else if (offerToken) self.SlotproofWaitlist.bootOffer(waitlistContext(), offerToken);
    else loadConfig();
  }

  /* the helpers the waitlist views (waitlist.js) build with */
  const waitlistContext = () => ({
    t, h, para, button, details, screen, run, explain, announce, loadingScreen, ready, api,
    applyTheme, main, fDate, fTime, zoneName, when, place, icsLink, lang,
  });

  function loadConfig() {
    loadingScreen();
    run(null, main, async () => {
      S.cfg = await api('GET', '/config');
      applyTheme(S.cfg.theme);
      showBrand();
      S.method = S.cfg.verificationMethod || null;
      const c = S.cfg;
      S.sel.type = c.fixedAppointmentTypeId || (c.appointmentTypes.length === 1 ? c.appointmentTypes[0].id : null);
      S.sel.loc = c.fixedLocationId || (c.locations.length === 1 ? c.locations[0].id : null);
      ready();
      if (needsChoice()) stepService();
      else stepTime();
    }, (e) => {
      explain(e, screen('error', t('errTitle')), loadConfig);
      ready();
      return true;
    });
  }

  function needsChoice() {
    const c = S.cfg;
    if (!c || S.manage) return false;
    return (
      (c.appointmentTypeSelectable && c.appointmentTypes.length > 1) ||
      (c.locationSelectable && c.locations.length > 1) ||
      (c.arePractitionersSelectable && c.practitioners.length > 1) ||
      !S.sel.type ||
      !S.sel.loc
    );
  }

  async function ensureAttempt() {
    if (S.token) return;
    const started = await api('POST', '/attempt', {});
    S.token = started.attemptToken;
    S.missing = started.attempt.missingVerifications || [];
    S.sent = {};
  }

  function startOver() {
    if (!S.cfg && !S.manage) {
      loadConfig();
      return;
    }
    S.token = null;
    S.hold = null;
    S.slot = null;
    S.patient = null;
    S.booked = null;
    S.missing = [];
    S.sent = {};
    S.months.clear();
    idemKeys.clear();
    if (S.manage) stepManage();
    else if (S.sel.type && S.sel.loc) stepTime(); // keep the visit details already chosen
    else stepService();
  }

  /* ---------- step 1: service, location, practitioner ---------- */

  function radios(name, legend, items, selected, describe) {
    const set = h('fieldset', { class: 'sp-choices', id: `sp-${name}` }, h('legend', {}, legend));
    const err = h('p', { class: 'sp-error', id: `sp-${name}-err`, hidden: true });
    set.setAttribute('aria-describedby', err.id);
    for (const item of items) {
      const id = `sp-${name}-${item.id}`;
      const detail = describe(item);
      set.append(
        h('div', { class: 'sp-choice' },
          h('input', { type: 'radio', name, id, value: String(item.id), checked: item.id === selected }),
          h('label', { for: id }, h('span', { class: 'sp-choice-name' }, item.name), detail ? h('span', { class: 'sp-choice-detail' }, detail) : null),
        ),
      );
    }
    set.append(err);
    return set;
  }

  function stepService() {
    const c = S.cfg;
    const form = h('form', { class: 'sp-form', novalidate: true });
    const parts = [];
    if (c.appointmentTypeSelectable && c.appointmentTypes.length > 1) {
      parts.push(radios('type', t('chooseService'), c.appointmentTypes, S.sel.type, (x) =>
        [t('minutes', { n: x.durationMinutes }), x.telehealth ? t('telehealth') : null, x.description].filter(Boolean).join(' · '),
      ));
    } else if (c.appointmentTypeVisible && typeOf()) {
      parts.push(para(t('serviceIs', { name: typeOf().name }), 'sp-fixed'));
    }
    if (c.locationSelectable && c.locations.length > 1) {
      parts.push(radios('loc', t('chooseLocation'), c.locations, S.sel.loc, (x) => address(x)));
    } else if (c.locationVisible && locOf()) {
      parts.push(para(t('locationIs', { name: locOf().name }), 'sp-fixed'));
    }
    let select = null;
    if (c.arePractitionersSelectable && c.practitioners.length > 1) {
      select = h('select', { id: 'sp-prac', name: 'prac' },
        h('option', { value: '' }, t('anyPractitioner')),
        c.practitioners.map((p) => h('option', { value: String(p.id), selected: p.id === S.sel.prac }, p.displayName)),
      );
      parts.push(field(t('practitioner'), select));
    }
    const submit = h('button', { type: 'submit', class: 'sp-btn' }, t('continue'));
    form.append(...parts, h('div', { class: 'sp-actions' }, submit));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const pick = (name) => {
        const checked = form.querySelector(`input[name="${name}"]:checked`);
        return checked ? Number(checked.value) : null;
      };
      let firstBad = null;
      for (const [name, key, message] of [['type', 'type', 'needService'], ['loc', 'loc', 'needLocation']]) {
        const set = form.querySelector(`#sp-${name}`);
        if (!set) continue;
        const value = pick(name);
        const err = set.querySelector('.sp-error');
        err.textContent = value ? '' : t(message);
        err.hidden = !!value;
        if (value) S.sel[key] = value;
        else firstBad = firstBad || set.querySelector('input');
      }
      if (firstBad) {
        firstBad.focus();
        announce(t('fixErrors'));
        return;
      }
      S.sel.prac = select && select.value ? Number(select.value) : null;
      S.day = null;
      S.view = null;
      stepTime();
    });
    screen('service', t('serviceTitle'), form);
  }

  /* ---------- step 2: month calendar and times ---------- */

  function summaryLine() {
    const bits = [];
    const type = typeOf();
    if (S.manage || S.cfg.appointmentTypeVisible) bits.push(type && type.name);
    if (S.manage || S.cfg.locationVisible) bits.push(type && type.telehealth ? t('telehealth') : locOf() && locOf().name);
    bits.push(S.sel.prac ? practitionerName(S.sel.prac) : S.cfg && S.cfg.arePractitionersSelectable ? t('anyPractitioner') : null);
    return bits.filter(Boolean).join(' · ');
  }

  async function loadMonth(y, m) {
    const k = [S.sel.loc, S.sel.type, S.sel.prac || '', y, m].join('|');
    if (!S.months.has(k)) {
      // a day either side: the response's days are keyed in the location's zone
      const params = new URLSearchParams({
        startUnix: String(Math.max(0, Date.UTC(y, m - 1, 1) - DAY)),
        endUnix: String(Date.UTC(y, m, 1) + DAY),
        locationId: String(S.sel.loc),
        appointmentTypeId: String(S.sel.type),
      });
      if (S.sel.prac) params.set('practitionerIds', String(S.sel.prac));
      S.months.set(k, api('GET', `/availability?${params}`));
    }
    try {
      const data = await S.months.get(k);
      for (const p of data.practitioners || []) S.names[p.practitionerId] = p.displayName;
      return data;
    } catch (e) {
      S.months.delete(k);
      throw e;
    }
  }

  const shift = (view, by) => {
    const n = view.y * 12 + (view.m - 1) + by;
    return { y: Math.floor(n / 12), m: (n % 12) + 1 };
  };
  const monthIndex = (v) => v.y * 12 + v.m;

  function openDays(data, view) {
    const out = new Set();
    for (const [key, slots] of Object.entries(data.slotsByDate || {})) {
      const [m, , y] = key.split('/').map(Number);
      if (m === view.m && y === view.y && slots.length) out.add(key);
    }
    return out;
  }

  function stepTime() {
    const tz = zoneOf();
    const today = zoned(Date.now(), tz);
    const first = { y: today.year, m: today.month };
    if (!S.view) S.view = first;

    const calendarArea = h('div', { class: 'sp-calendar-area' });
    const timesArea = h('div', { class: 'sp-times-area', id: 'sp-times' });
    const back = S.manage
      ? button(t('back'), stepManage, 'sp-btn sp-secondary')
      : needsChoice() ? button(t('changeChoices'), stepService, 'sp-btn sp-secondary') : null;
    screen(S.manage ? 'manage-time' : 'time', t(S.manage ? 'rescheduleTitle' : 'timeTitle'),
      summaryLine() ? para(summaryLine(), 'sp-summary') : null,
      calendarArea, timesArea, back ? h('div', { class: 'sp-actions' }, back) : null);

    let autoAdvance = S.day ? 0 : 2;
    const show = () =>
      run(null, calendarArea, async () => {
        calendarArea.setAttribute('aria-busy', 'true');
        announce(t('loadingTimes'));
        if (!S.manage) await ensureAttempt();
        let data = await loadMonth(S.view.y, S.view.m);
        let days = openDays(data, S.view);
        while (!days.size && autoAdvance > 0 && monthIndex(S.view) < monthIndex(first) + MONTHS_AHEAD) {
          autoAdvance -= 1;
          S.view = shift(S.view, 1);
          data = await loadMonth(S.view.y, S.view.m);
          days = openDays(data, S.view);
        }
        autoAdvance = 0;
        // the earliest day with openings starts selected: its times show without a click
        if (!S.day || !days.has(S.day)) S.day = [...days].sort((a, b) => Number(a.split('/')[1]) - Number(b.split('/')[1]))[0] || null;
        calendarArea.removeAttribute('aria-busy');
        drawCalendar(calendarArea, timesArea, data, days, first, show);
        const next = shift(S.view, 1);
        if (monthIndex(next) <= monthIndex(first) + MONTHS_AHEAD) loadMonth(next.y, next.m).catch(() => {}); // warm the next month
      });
    show();
  }

  function drawCalendar(area, timesArea, data, days, first, reload) {
    const view = S.view;
    const tz = data.timeZone || zoneOf();
    const monthLabel = fMonth(view.y, view.m);
    const go = (by, nav) => () => {
      S.view = shift(view, by);
      S.day = null;
      S.refocus = nav;
      reload();
    };
    const prev = button('‹', go(-1, 'prev'), 'sp-nav', {
      'aria-label': t('prevMonth'), 'data-nav': 'prev', disabled: monthIndex(view) <= monthIndex(first),
    });
    const next = button('›', go(1, 'next'), 'sp-nav', {
      'aria-label': t('nextMonth'), 'data-nav': 'next', disabled: monthIndex(view) >= monthIndex(first) + MONTHS_AHEAD,
    });
    const caption = h('h3', { class: 'sp-month', id: 'sp-month' }, monthLabel);
    const weekStart = T.weekStart;
    const head = h('tr', {});
    for (let i = 0; i < 7; i += 1) {
      const wd = (weekStart + i) % 7;
      const ref = Date.UTC(2023, 0, 1 + wd); // 1 Jan 2023 was a Sunday
      head.append(h('th', { scope: 'col', abbr: fmt({ weekday: 'long' }, 'UTC').format(ref) },
        fmt({ weekday: 'short' }, 'UTC').format(ref)));
    }
    const count = new Date(Date.UTC(view.y, view.m, 0)).getUTCDate();
    const lead = (new Date(Date.UTC(view.y, view.m - 1, 1)).getUTCDay() - weekStart + 7) % 7;
    const body = h('tbody', {});
    let row = h('tr', {});
    for (let i = 0; i < lead; i += 1) row.append(h('td', {}));
    const buttons = [];
    const isToday = (d) => view.y === first.y && view.m === first.m && d === zoned(Date.now(), tz).day;
    const focusDay = S.day && days.has(S.day) ? S.day : dayKey(view.y, view.m, 1);
    for (let d = 1; d <= count; d += 1) {
      const key = dayKey(view.y, view.m, d);
      const open = days.has(key);
      const label = `${fDay(Date.UTC(view.y, view.m - 1, d, 12), 'UTC')}, ${t(open ? 'hasOpenings' : 'noOpenings')}`;
      const b = h('button', {
        type: 'button', class: `sp-day${open ? ' sp-open' : ''}`, 'data-day': key, 'aria-label': label,
        'aria-disabled': open ? null : 'true', 'aria-pressed': open ? String(key === S.day) : null,
        'aria-current': isToday(d) ? 'date' : null, tabindex: key === focusDay ? '0' : '-1',
        onclick: () => {
          if (!open) { announce(t('noOpeningsDay')); return; }
          S.day = key;
          for (const other of buttons) {
            if (other.classList.contains('sp-open')) other.setAttribute('aria-pressed', String(other === b));
            other.tabIndex = other === b ? 0 : -1;
          }
          drawTimes(timesArea, data, tz);
        },
      }, String(d));
      buttons.push(b);
      row.append(h('td', {}, b));
      if (row.children.length === 7) { body.append(row); row = h('tr', {}); }
    }
    if (row.children.length) body.append(row);
    const table = h('table', { class: 'sp-grid', 'aria-labelledby': 'sp-month' }, h('thead', {}, head), body);
    table.addEventListener('keydown', (e) => {
      const i = buttons.indexOf(document.activeElement);
      if (i < 0) return;
      const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7, Home: -((i + lead) % 7), End: 6 - ((i + lead) % 7) };
      if (!(e.key in moves)) return;
      e.preventDefault();
      const j = Math.min(buttons.length - 1, Math.max(0, i + moves[e.key]));
      buttons[i].tabIndex = -1;
      buttons[j].tabIndex = 0;
      buttons[j].focus();
    });
    const none = days.size ? null : para(t('noOpeningsMonth', { month: monthLabel }), 'sp-note');
    const legend = para(t('calendarHelp'), 'sp-hint');
    fill(area, h('div', { class: 'sp-monthbar' }, prev, caption, next), legend, table, none);
    if (none) {
      const phone = (locOf() || {}).phone;
      area.append(h('div', { class: 'sp-actions' }, monthIndex(view) < monthIndex(first) + MONTHS_AHEAD ? button(t('nextMonth'), go(1, 'next'), 'sp-btn sp-secondary') : null));
      if (phone) area.append(para(t('orCall', { phone }), 'sp-hint'));
      announce(t('noOpeningsMonth', { month: monthLabel }));
    } else {
      announce(t('monthOpenings', { month: monthLabel, n: days.size }));
    }
    if (S.day && days.has(S.day)) drawTimes(timesArea, data, tz);
    else timesArea.replaceChildren();
    if (S.refocus) {
      // the month buttons were redrawn: keep keyboard focus where it was
      const nav = area.querySelector(`[data-nav="${S.refocus}"]`);
      S.refocus = null;
      (nav && !nav.disabled ? nav : area.querySelector('.sp-day[tabindex="0"]')).focus();
    }
  }

  function slotChoice(slot) {
    let practitionerId = slot.practitionerId;
    let schedulerConfigId = slot.schedulerConfigId;
    if (slot.practitionerToConfig) {
      const map = slot.practitionerToConfig;
      const id = S.sel.prac && map[String(S.sel.prac)] ? String(S.sel.prac) : Object.keys(map)[0];
      practitionerId = Number(id);
      schedulerConfigId = map[id];
    }
    const startUnix = slot.startUnix || Date.parse(slot.startDateTime);
    const type = typeOf();
    const endUnix = slot.endDateTime ? Date.parse(slot.endDateTime) : startUnix + ((type && type.durationMinutes) || 30) * 60000;
    return { startUnix, startDateTime: slot.startDateTime, endUnix, practitionerId, schedulerConfigId };
  }

  function drawTimes(area, data, tz) {
    const slots = (data.slotsByDate || {})[S.day] || [];
    const [m, d, y] = S.day.split('/').map(Number);
    const title = fDay(Date.UTC(y, m - 1, d, 12), 'UTC');
    const zone = zoneName(slots.length ? slots[0].startUnix : Date.now(), tz);
    const list = h('ul', { class: 'sp-times', 'aria-labelledby': 'sp-times-h' });
    for (const slot of slots) {
      const label = fTime(slot.startUnix, tz);
      list.append(h('li', {}, button(label, (e) => chooseSlot(slotChoice(slot), e.currentTarget, area), 'sp-time')));
    }
    area.replaceChildren(
      h('h3', { id: 'sp-times-h', class: 'sp-times-title' }, title),
      para(t('zoneNote', { zone, city: cityOf(tz) }), 'sp-zone'),
      list,
    );
    announce(t('timesFor', { n: slots.length, day: title }));
  }

  const cityOf = (tz) => (tz.split('/').pop() || tz).replace(/_/g, ' ');

  /* Choosing a time places a hold (booking flow) or asks to confirm the move (manage flow).
     The server holds only once a code was sent (409 code_not_sent before): until then the
     time is just remembered, and sendCode holds it. */
  function chooseSlot(choice, btn, area) {
    if (S.manage) {
      confirmReschedule(choice);
      return;
    }
    run(btn, area, async () => {
      await ensureAttempt();
      if (await holdSlot(choice)) announce(t('held', { time: when(choice.startUnix, zoneOf()) }));
      afterTime();
    }, (e) => lostSlot(e, area, (alt) => chooseSlot(alt, null, area)));
  }

  async function holdSlot(choice) {
    S.hold = null;
    if (S.method && S.missing.length && !Object.keys(S.sent).length) {
      S.slot = choice;
      return false;
    }
    try {
      S.hold = await api('POST', '/attempt/hold', slotBody(choice), { idem: true });
    } catch (e) {
      // no hold yet, or too many held right now: carry on, the booking re-checks the time
      if (e.code !== 'code_not_sent' && e.code !== 'rate_limited') throw e;
    }
    S.slot = choice;
    return !!S.hold;
  }

  function slotBody(choice) {
    return {
      appointmentTypeId: S.sel.type,
      locationId: S.sel.loc,
      practitionerId: choice.practitionerId,
      schedulerConfigId: choice.schedulerConfigId,
      startDateTime: choice.startDateTime,
    };
  }

  /* 409 slot_unavailable: show the alternatives the server offered, as buttons. */
  function lostSlot(e, area, pick) {
    if (e.code !== 'slot_unavailable') return false;
    S.months.clear();
    const tz = zoneOf();
    const alts = (e.body.alternatives || []).map((a) => ({
      ...slotChoice({ startUnix: a.startUnix, startDateTime: a.startDateTime, practitionerId: a.practitionerId, schedulerConfigId: a.schedulerConfigId }),
    }));
    const buttons = alts.map((a) => button(when(a.startUnix, tz), (ev) => pick(a, ev.currentTarget), 'sp-btn sp-secondary sp-alt'));
    const again = S.manage ? null : button(t('pickAnother'), () => { S.day = null; stepTime(); }, 'sp-btn sp-secondary');
    alertBox(area, t(alts.length ? 'slotTakenAlternatives' : 'slotTaken'), [h('div', { class: 'sp-alts' }, buttons), again]);
    const firstAlt = area.querySelector('.sp-alt');
    if (firstAlt) firstAlt.focus();
    return true;
  }

  function afterTime() {
    if (S.method && S.missing.length) stepContact();
    else if (!S.patient) stepPatient();
    else stepReview();
  }

  /* ---------- step 3: contact and code ---------- */

  function stepContact() {
    const channel = S.missing[0] || (S.method === 'SMS' ? 'SMS' : 'EMAIL');
    const isEmail = channel === 'EMAIL';
    const title = t(isEmail ? 'contactEmailTitle' : 'contactPhoneTitle');
    const sent = S.sent[channel];
    const section = screen('contact', title);
    const area = h('div', {});
    section.append(area);
    if (sent) codeForm(area, channel, sent);
    else contactForm(area, channel);
  }

  function contactForm(area, channel, focus) {
    const isEmail = channel === 'EMAIL';
    const input = h('input', isEmail
      ? { type: 'email', id: 'sp-contact', name: 'email', autocomplete: 'email', required: true, spellcheck: 'false' }
      : { type: 'tel', id: 'sp-contact', name: 'phone', autocomplete: 'tel', required: true, inputmode: 'tel' });
    const previous = S.sent[channel];
    if (previous) input.value = previous.to;
    const countries = S.cfg.allowedPhoneCountries || [];
    const northAmerica = countries.length && countries.every((c) => c === 'US' || c === 'CA');
    const hint = isEmail ? t('emailHint')
      : !countries.length || countries.join() === 'US' ? t('phoneHintUS')
        : northAmerica ? t('phoneHintNA') : t('phoneHint', { countries: countries.join(', ') });
    const submit = h('button', { type: 'submit', class: 'sp-btn' }, t('sendCode'));
    const form = h('form', { class: 'sp-form', novalidate: true },
      para(t(isEmail ? 'whyEmail' : 'whyPhone'), 'sp-lead'),
      field(t(isEmail ? 'email' : 'phone'), input, hint),
      h('div', { class: 'sp-actions' }, submit, button(t('back'), () => stepTime(), 'sp-btn sp-secondary')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const value = input.value.trim();
      const ok = isEmail ? /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value) : value.replace(/\D/g, '').length >= 10;
      if (!setError(input, ok ? '' : t(isEmail ? 'badEmail' : 'badPhone'))) {
        input.focus();
        return;
      }
      sendCode(submit, form, channel, value, () => codeForm(area, channel, S.sent[channel], true), input);
    });
    area.replaceChildren(form);
    if (focus) input.focus();
  }

  function sendCode(btn, area, channel, value, then, input) {
    run(btn, area, async () => {
      await api('POST', '/attempt/send-code', channel === 'EMAIL' ? { email: value } : { phone: value });
      S.sent[channel] = { to: value, at: Date.now() };
      S.resendAt = Date.now() + RESEND_WAIT;
      if (S.slot && !S.hold) await holdSlot(S.slot);
      then();
      announce(t('codeSent', { to: value }));
    }, (e) => {
      if (lostSlot(e, area, (alt) => chooseSlot(alt, null, area))) return true;
      if (e.code === 'send_rate_limited') {
        S.resendAt = Date.now() + (Number(e.body.retryAfterSeconds) || 60) * 1000;
        if (!S.sent[channel] || S.sent[channel].to !== value) S.sent[channel] = { to: value, at: Date.now() };
        then();
        const target = document.getElementById('sp-code-area') || area;
        alertBox(target, t('sendLimited', { s: Math.ceil((S.resendAt - Date.now()) / 1000) }));
        return true;
      }
      if ((e.code === 'validation_failed' || e.code === 'phone_not_allowed') && input) {
        setError(input, t(channel === 'EMAIL' ? 'badEmail' : 'badPhone'));
        input.focus();
        return true;
      }
      if (e.code === 'no_verification') {
        S.missing = [];
        afterTime();
        return true;
      }
      return false;
    });
  }

  function codeForm(area, channel, sent, focus) {
    const input = h('input', { type: 'text', id: 'sp-code', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6', pattern: '[0-9]*', required: true });
    const submit = h('button', { type: 'submit', class: 'sp-btn' }, t('verify'));
    const resend = button(t('resend'), () => sendCode(resend, form, channel, sent.to, () => codeForm(area, channel, S.sent[channel], true)), 'sp-btn sp-secondary', { id: 'sp-resend' });
    const countdown = h('p', { class: 'sp-countdown', id: 'sp-countdown' });
    const change = button(t(channel === 'EMAIL' ? 'changeEmail' : 'changePhone'), () => contactForm(area, channel, true), 'sp-link');
    const form = h('form', { class: 'sp-form', novalidate: true, id: 'sp-code-area' },
      para(t('codeSentTo', { to: sent.to }), 'sp-lead'),
      field(t('code'), input, t('codeHint')),
      h('div', { class: 'sp-actions' }, submit, resend),
      countdown, change);
    const tick = () => {
      const left = Math.ceil((S.resendAt - Date.now()) / 1000);
      resend.disabled = left > 0;
      countdown.textContent = left > 0 ? t('resendIn', { s: left }) : '';
      if (left <= 0) clearInterval(S.timer);
    };
    clearInterval(S.timer);
    S.timer = setInterval(tick, 1000);
    tick();
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const code = input.value.replace(/\s/g, '');
      if (!setError(input, /^\d{6}$/.test(code) ? '' : t('badCode'))) {
        input.focus();
        return;
      }
      run(submit, form, async () => {
        const body = channel === 'EMAIL' ? { code, email: sent.to } : { code, phone: sent.to };
        const r = await api('POST', '/attempt/verify-code', body);
        if (!r.verified) {
          const expired = Date.now() - sent.at > CODE_TTL;
          setError(input, t(expired ? 'codeExpired' : 'codeWrong'));
          input.select();
          input.focus();
          return;
        }
        S.missing = r.missingVerifications || [];
        announce(t('verified'));
        if (S.missing.length) stepContact();
        else afterTime();
      }, (e) => {
        if (e.code === 'too_many_attempts') {
          const phone = (locOf() || {}).phone;
          input.disabled = true;
          submit.disabled = true;
          alertBox(form, `${t('codeLocked')}${phone ? ` ${t('orCall', { phone })}` : ''}`, [button(t('startOver'), startOver)]);
          return true;
        }
        if (e.code === 'validation_failed') {
          setError(input, t('badCode'));
          input.focus();
          return true;
        }
        if (e.code === 'proof_expired') {
          alertBox(form, t('codeSessionExpired'), [button(t('startOver'), startOver)]);
          return true;
        }
        return false;
      });
    });
    area.replaceChildren(form);
    if (focus) input.focus();
  }

  /* ---------- step 4: name and date of birth ---------- */

  function stepPatient() {
    const p = S.patientDraft || {};
    const first = h('input', { type: 'text', id: 'sp-first', name: 'firstName', autocomplete: 'given-name', required: true, maxlength: '100' });
    const last = h('input', { type: 'text', id: 'sp-last', name: 'lastName', autocomplete: 'family-name', required: true, maxlength: '100' });
    const num = (id, name, auto, max) => h('input', { type: 'text', id, name, autocomplete: auto, inputmode: 'numeric', maxlength: max, class: `sp-dob-${name}`, required: true });
    const month = num('sp-dob-m', 'month', 'bday-month', '2');
    const day = num('sp-dob-d', 'day', 'bday-day', '2');
    const year = num('sp-dob-y', 'year', 'bday-year', '4');
    first.value = p.firstName || '';
    last.value = p.lastName || '';
    month.value = p.m || '';
    day.value = p.d || '';
    year.value = p.y || '';
    const dobErr = h('p', { class: 'sp-error', id: 'sp-dob-err', hidden: true });
    const dob = h('fieldset', { class: 'sp-dob', 'aria-describedby': 'sp-dob-hint sp-dob-err' },
      h('legend', {}, t('dob')),
      h('p', { class: 'sp-hint', id: 'sp-dob-hint' }, t('dobHint')),
      h('div', { class: 'sp-dob-row' }, [...(T.dobOrder || 'mdy')].map((part) => {
        const [input, label] = { m: [month, 'month'], d: [day, 'day'], y: [year, 'year'] }[part];
        return h('div', {}, h('label', { for: input.id }, t(label)), input);
      })),
      dobErr);
    let email = null;
    if (!S.method) email = h('input', { type: 'email', id: 'sp-email', name: 'email', autocomplete: 'email', spellcheck: 'false' });
    const submit = h('button', { type: 'submit', class: 'sp-btn' }, t('continue'));
    const form = h('form', { class: 'sp-form', novalidate: true },
      para(t('patientLead'), 'sp-lead'),
      field(t('firstName'), first), field(t('lastName'), last), dob,
      email ? field(t('emailOptional'), email, t('emailOptionalHint')) : null,
      h('div', { class: 'sp-actions' }, submit, button(t('back'), () => stepTime(), 'sp-btn sp-secondary')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const draft = { firstName: first.value.trim(), lastName: last.value.trim(), m: month.value.trim(), d: day.value.trim(), y: year.value.trim() };
      S.patientDraft = draft;
      let bad = null;
      const need = (input, ok, message) => {
        setError(input, ok ? '' : message);
        if (!ok && !bad) bad = input;
      };
      need(first, draft.firstName, t('needFirst'));
      need(last, draft.lastName, t('needLast'));
      const dobValue = isoDate(draft);
      for (const x of [month, day, year]) x.toggleAttribute('aria-invalid', !dobValue);
      dobErr.textContent = dobValue ? '' : t('badDob');
      dobErr.hidden = !!dobValue;
      if (!dobValue && !bad) bad = dob.querySelector('input');
      if (email && email.value.trim()) need(email, /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.value.trim()), t('badEmail'));
      if (bad) {
        bad.focus();
        announce(t('fixErrors'));
        return;
      }
      const body = { firstName: draft.firstName, lastName: draft.lastName, dateOfBirth: dobValue };
      if (email && email.value.trim()) body.email = email.value.trim();
      run(submit, form, async () => {
        S.patient = await api('POST', '/attempt/patient', body, { idem: true });
        stepReview();
      }, (e) => {
        if (e.code === 'not_verified') { stepContact(); return true; }
        if (e.code === 'ambiguous_match') {
          const phone = (locOf() || {}).phone;
          alertBox(form, `${t('ambiguous')}${phone ? ` ${t('orCall', { phone })}` : ''}`);
          return true;
        }
        if (e.code === 'validation_failed') {
          for (const f of e.body.errors || []) {
            if (/first/i.test(f.field)) setError(first, t('needFirst'));
            else if (/last/i.test(f.field)) setError(last, t('needLast'));
            else if (/birth/i.test(f.field)) { dobErr.textContent = t('badDob'); dobErr.hidden = false; }
          }
          alertBox(form, t('fixErrors'));
          return true;
        }
        return false;
      });
    });
    screen('patient', t('patientTitle'), form);
  }

  function isoDate({ y, m, d }) {
    if (!/^\d{4}$/.test(y) || !/^\d{1,2}$/.test(m) || !/^\d{1,2}$/.test(d)) return null;
    const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
    if (date.getUTCMonth() !== Number(m) - 1 || date.getUTCDate() !== Number(d)) return null;
    if (Number(y) < 1900 || date.getTime() > Date.now()) return null;
    return date.toISOString().slice(0, 10);
  }

  /* ---------- step 5: review and book ---------- */

  function details(rows) {
    return h('dl', { class: 'sp-details' }, rows.filter((r) => r && r[1]).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  }

  function stepReview() {
    const tz = zoneOf();
    const type = typeOf();
    const c = S.slot;
    const submit = button(t('book'), () => book(submit, section), 'sp-btn');
    const section = screen('review', t('reviewTitle'),
      details([
        [t('service'), typeName(type)],
        [t('practitioner'), practitionerName(c.practitionerId)],
        [t('when'), `${when(c.startUnix, tz)} (${zoneName(c.startUnix, tz)})`],
        [t('where'), place(type, locOf())],
        [t('patient'), S.patient ? `${S.patient.firstName} ${S.patient.lastName}` : ''],
      ]),
      h('div', { class: 'sp-actions' }, submit,
        button(t('changeTime'), () => stepTime(), 'sp-btn sp-secondary')));
  }

  function book(btn, area) {
    run(btn, area, async () => {
      S.booked = await api('POST', '/attempt/appointment', slotBody(S.slot), { idem: true });
      const a = S.booked.appointment;
      emit('slotproof:booked', { appointmentId: a.id, startDateTime: a.startDateTime });
      stepDone();
    }, (e) => {
      const retake = (alt, b) => run(b, area, async () => {
        S.hold = await api('POST', '/attempt/hold', slotBody(alt), { idem: true });
        S.slot = alt;
        stepReview();
        announce(t('held', { time: when(alt.startUnix, zoneOf()) }));
      }, (err) => lostSlot(err, area, retake));
      if (lostSlot(e, area, retake)) return true;
      if (e.code === 'not_verified') { stepContact(); return true; }
      if (e.code === 'patient_not_set') { stepPatient(); return true; }
      if (e.code === 'already_booked') {
        alertBox(area, t('alreadyBooked'), [button(t('startOver'), startOver)]);
        return true;
      }
      return false;
    });
  }

  /* ---------- step 6: confirmation ---------- */

  function icsLink(appointment, type, loc) {
    const start = Date.parse(appointment.startDateTime);
    const end = Date.parse(appointment.endDateTime);
    const practice = (S.cfg && S.cfg.practiceName) || '';
    const text = ics({
      uid: `appointment-${appointment.id}@${location.hostname}`,
      start,
      end,
      summary: [typeName(type), practice].filter(Boolean).join(' — '),
      where: place(type, loc),
      description: [practice, loc && loc.phone].filter(Boolean).join(' · '),
    });
    const url = URL.createObjectURL(new Blob([text], { type: 'text/calendar;charset=utf-8' }));
    return h('a', { href: url, download: 'appointment.ics', class: 'sp-btn sp-secondary' }, t('addToCalendar'));
  }

  function stepDone() {
    const a = S.booked.appointment;
    const tz = zoneOf();
    const type = typeOf();
    const start = Date.parse(a.startDateTime);
    screen('confirmation', t('doneTitle'),
      para(t('doneLead'), 'sp-lead'),
      details([
        [t('service'), typeName(type)],
        [t('practitioner'), practitionerName(a.practitionerId)],
        [t('date'), fDate(start, tz)],
        [t('time'), `${fTime(start, tz)} (${zoneName(start, tz)})`],
        [t('where'), a.telehealth ? t('telehealthPlace') : place(type, locOf())],
      ]),
      h('div', { class: 'sp-actions' },
        icsLink(a, type, locOf()),
        h('a', { href: S.booked.manageUrl, target: '_blank', rel: 'noopener', class: 'sp-btn sp-secondary', id: 'sp-manage-link' }, t('manageLink'))),
      para(t('doneNote'), 'sp-hint'));
  }

  /* ---------- manage (#manage=<token>): cancel or reschedule ---------- */

  function bootManage(token) {
    S.manage = { token, data: null };
    loadingScreen();
    run(null, main, async () => {
      S.manage.data = await api('GET', `/manage/${encodeURIComponent(token)}`);
      const key = S.manage.data.settingPublishableKey;
      if (!S.key && key) S.key = key;
      if (S.key) {
        try {
          S.cfg = await api('GET', '/config');
          applyTheme(S.cfg.theme);
          showBrand();
        } catch {
          S.cfg = null; // the look is optional here
        }
      }
      if (!S.cfg) applyTheme({});
      const d = S.manage.data;
      S.sel = { type: d.appointmentType.id, loc: d.location.id, prac: d.practitioner.id };
      ready();
      stepManage();
    }, (e) => {
      if (e.status === 404) screen('manage', t('manageMissingTitle'), para(t('manageMissing')));
      else explain(e, screen('manage', t('manageTitle')), () => bootManage(token));
      ready();
      return true;
    });
  }

  function manageDetails(d) {
    const a = d.appointment;
    const tz = d.location.timeZone;
    const start = Date.parse(a.startDateTime);
    return details([
      [t('service'), d.appointmentType.name],
      [t('practitioner'), d.practitioner.displayName],
      [t('date'), fDate(start, tz)],
      [t('time'), `${fTime(start, tz)} (${zoneName(start, tz)})`],
      [t('where'), a.telehealth ? t('telehealthPlace') : place(d.appointmentType, d.location)],
      [t('status'), t(`status_${a.status}`)],
    ]);
  }

  function stepManage() {
    const d = S.manage.data;
    const actions = [];
    if (d.canReschedule) actions.push(button(t('reschedule'), () => { S.view = null; S.day = null; S.months.clear(); stepTime(); }, 'sp-btn'));
    if (d.canCancel) actions.push(button(t('cancelAppointment'), confirmCancel, 'sp-btn sp-danger'));
    const phone = d.location.phone;
    const cancelled = d.appointment.status === 'CANCELLED';
    screen('manage', t(cancelled ? 'cancelledTitle' : 'manageTitle'),
      manageDetails(d),
      actions.length ? h('div', { class: 'sp-actions' }, actions) : para(`${t('manageLocked')}${phone ? ` ${t('orCall', { phone })}` : ''}`, 'sp-note'),
      cancelled ? null : self.SlotproofWaitlist.earlierBlock(waitlistContext(), S.manage.token, d),
      cancelled ? bookAgain() : null);
  }

  function bookAgain() {
    if (!S.key) return null;
    const url = `${API}/frame?key=${encodeURIComponent(S.key)}&lang=${lang}`;
    return h('p', {}, h('a', { href: url, class: 'sp-btn sp-secondary' }, t('bookAnother')));
  }

  function confirmCancel() {
    const d = S.manage.data;
    const tz = d.location.timeZone;
    const yes = button(t('confirmCancel'), () => run(yes, section, async () => {
      const r = await api('POST', `/manage/${encodeURIComponent(S.manage.token)}/cancel`, {});
      d.appointment = r.appointment;
      d.canCancel = false;
      d.canReschedule = false;
      stepManage();
      announce(t('cancelledTitle'));
    }, (e) => manageRefused(e, section)), 'sp-btn sp-danger');
    const section = screen('manage-cancel', t('cancelTitle'),
      para(t('cancelQuestion', { what: d.appointmentType.name, when: when(Date.parse(d.appointment.startDateTime), tz) }), 'sp-lead'),
      h('div', { class: 'sp-actions' }, yes, button(t('keep'), stepManage, 'sp-btn sp-secondary')));
  }

  function manageRefused(e, area) {
    if (['not_cancellable', 'not_reschedulable', 'appointment_in_past'].includes(e.code)) {
      alertBox(area, t('manageRefused'), [button(t('back'), () => bootManage(S.manage.token), 'sp-btn sp-secondary')]);
      return true;
    }
    return false;
  }

  function confirmReschedule(choice) {
    const d = S.manage.data;
    const tz = d.location.timeZone;
    const yes = button(t('confirmMove'), () => run(yes, section, async () => {
      const r = await api('POST', `/manage/${encodeURIComponent(S.manage.token)}/reschedule`, {
        startDateTime: choice.startDateTime,
        schedulerConfigId: choice.schedulerConfigId,
        practitionerId: choice.practitionerId,
      });
      d.appointment = r.appointment;
      if (choice.practitionerId !== d.practitioner.id) {
        d.practitioner = { id: choice.practitionerId, displayName: practitionerName(choice.practitionerId) };
      }
      S.months.clear();
      movedScreen();
    }, (e) => lostSlot(e, section, (alt) => confirmReschedule(alt)) || manageRefused(e, section)), 'sp-btn');
    const section = screen('manage-confirm', t('moveTitle'),
      details([
        [t('from'), when(Date.parse(d.appointment.startDateTime), tz)],
        [t('to'), `${when(choice.startUnix, tz)} (${zoneName(choice.startUnix, tz)})`],
      ]),
      h('div', { class: 'sp-actions' }, yes, button(t('pickAnother'), stepTime, 'sp-btn sp-secondary')));
  }

  function movedScreen() {
    const d = S.manage.data;
    screen('manage-done', t('movedTitle'), manageDetails(d),
      h('div', { class: 'sp-actions' }, icsLink(d.appointment, d.appointmentType, d.location),
        button(t('backToAppointment'), stepManage, 'sp-btn sp-secondary')));
    announce(t('movedTitle'));
  }

  /* ---------- .ics, built here: nothing about the visit leaves the frame ---------- */

  function ics({ uid, start, end, summary, where, description }) {
    const stamp = (ms) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const esc = (s) => String(s).replace(/[\\;,]/g, (m) => `\\${m}`).replace(/\r?\n/g, '\\n');
    const lines = [
      'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//slotproof//widget//EN', 'CALSCALE:GREGORIAN', 'METHOD:PUBLISH',
      'BEGIN:VEVENT', `UID:${uid}`, `SEQUENCE:${Math.floor(Date.now() / 1000)}`, `DTSTAMP:${stamp(Date.now())}`,
      `DTSTART:${stamp(start)}`, `DTEND:${stamp(end)}`, `SUMMARY:${esc(summary)}`,
      where ? `LOCATION:${esc(where)}` : null, description ? `DESCRIPTION:${esc(description)}` : null,
      'END:VEVENT', 'END:VCALENDAR',
    ];
    return `${lines.filter(Boolean).map(fold).join('\r\n')}\r\n`;
  }

  function fold(line) {
    // RFC 5545: lines of at most 75 octets, continued with CRLF + space
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

  boot();
})();
