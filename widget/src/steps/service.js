/* Step: type of visit, location, practitioner — only what the setting makes selectable. The
 * practitioner list follows the chosen location (and type): nobody is offered where they do
 * not work. */
import { actions, announce, field, h, para } from '../dom.js';
import { go, register, screen } from '../flow.js';
import { t } from '../i18n.js';
import { locOf, typeOf, visit } from '../state.js';
import { practitionersAt } from '../calendar.js';
import { address } from '../text.js';

function radios(name, legend, items, selected, describe) {
  const set = h('fieldset', { class: 'sp-choices', id: `sp-${name}` }, h('legend', {}, legend));
  const err = h('p', { class: 'sp-error', id: `sp-${name}-err`, hidden: true });
  set.setAttribute('aria-describedby', err.id);
  for (const item of items) {
    const id = `sp-${name}-${item.id}`;
    const detail = describe(item);
    set.append(h('div', { class: 'sp-choice' },
      h('input', { type: 'radio', name, id, value: String(item.id), checked: item.id === selected }),
      h('label', { for: id }, h('span', { class: 'sp-choice-name' }, item.name), detail ? h('span', { class: 'sp-choice-detail' }, detail) : null)));
  }
  set.append(err);
  return set;
}

function stepService() {
  const c = visit.cfg;
  const form = h('form', { class: 'sp-form', novalidate: true });
  const parts = [];
  if (c.appointmentTypeSelectable && c.appointmentTypes.length > 1) {
    parts.push(radios('type', t('chooseService'), c.appointmentTypes, visit.sel.type, (x) =>
      [t('minutes', { n: x.durationMinutes }), x.telehealth ? t('telehealth') : null, x.description].filter(Boolean).join(' · ')));
  } else if (c.appointmentTypeVisible && typeOf()) {
    parts.push(para(t('serviceIs', { name: typeOf().name }), 'sp-fixed'));
  }
  if (c.locationSelectable && c.locations.length > 1) {
    parts.push(radios('loc', t('chooseLocation'), c.locations, visit.sel.loc, (x) => address(x)));
  } else if (c.locationVisible && locOf()) {
    parts.push(para(t('locationIs', { name: locOf().name }), 'sp-fixed'));
  }
  let select = null;
  const picked = (name) => {
    const checked = form.querySelector(`input[name="${name}"]:checked`);
    return checked ? Number(checked.value) : null;
  };
  const fillPractitioners = () => {
    const loc = picked('loc') || visit.sel.loc;
    const type = picked('type') || visit.sel.type;
    const here = practitionersAt(c.practitioners, loc, type);
    const keep = select.value && here.some((p) => String(p.id) === select.value) ? select.value : '';
    select.replaceChildren(h('option', { value: '' }, t('anyPractitioner')),
      ...here.map((p) => h('option', { value: String(p.id) }, p.displayName)));
    select.value = keep;
  };
  if (c.arePractitionersSelectable && c.practitioners.length > 1) {
    select = h('select', { id: 'sp-prac', name: 'prac' });
    parts.push(field(t('practitioner'), select, t('practitionerHint')));
    form.addEventListener('change', (e) => {
      if (e.target.name === 'loc' || e.target.name === 'type') {
        const before = select.options.length;
        fillPractitioners();
        if (select.options.length !== before) announce(t('practitionersFor', { n: select.options.length - 1 }));
      }
    });
  }
  const submit = h('button', { type: 'submit', class: 'sp-btn' }, t('continue'));
  form.append(...parts, actions(submit));
  if (select) {
    fillPractitioners();
    if (visit.sel.prac && [...select.options].some((o) => o.value === String(visit.sel.prac))) select.value = String(visit.sel.prac);
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    let firstBad = null;
    for (const [name, key, message] of [['type', 'type', 'needService'], ['loc', 'loc', 'needLocation']]) {
      const set = form.querySelector(`#sp-${name}`);
      if (!set) continue;
      const value = picked(name);
      const err = set.querySelector('.sp-error');
      err.textContent = value ? '' : t(message);
      err.hidden = !!value;
      if (value) visit.sel[key] = value;
      else firstBad = firstBad || set.querySelector('input');
    }
    if (firstBad) {
      firstBad.focus();
      announce(t('fixErrors'));
      return;
    }
    visit.sel.prac = select && select.value ? Number(select.value) : null;
    visit.day = null;
    visit.view = null;
    go('time');
  });
  screen('service', t('serviceTitle'), form);
}

register('service', stepService);
