/* Step: name and date of birth (month / day / year in the language's order). Every error is
 * red, marked aria-invalid="true" and read out with its field. */
import { api } from '../api.js';
import { actions, alertBox, announce, field, h, para, setError, button } from '../dom.js';
import { go, register, run, screen } from '../flow.js';
import { T, t } from '../i18n.js';
import { attempt, locOf } from '../state.js';
import { emailOk, isoDate } from '../checks.js';
import { phoneText } from '../text.js';
import { chosenBox } from '../held.js';

function stepPatient() {
  const p = attempt.draft || {};
  const first = h('input', { type: 'text', id: 'sp-first', name: 'firstName', autocomplete: 'given-name', required: true, maxlength: '100' });
  const last = h('input', { type: 'text', id: 'sp-last', name: 'lastName', autocomplete: 'family-name', required: true, maxlength: '100' });
  const num = (id, name, auto, max) => h('input', { type: 'text', id, name, autocomplete: auto, inputmode: 'numeric', maxlength: max, class: `sp-dob-${name}`, required: true, 'aria-describedby': 'sp-dob-hint sp-dob-err' });
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
  const dobError = (message) => {
    for (const x of [month, day, year]) {
      if (message) x.setAttribute('aria-invalid', 'true');
      else x.removeAttribute('aria-invalid');
    }
    dob.classList.toggle('sp-invalid', !!message);
    dobErr.textContent = message || '';
    dobErr.hidden = !message;
  };
  let email = null;
  if (!attempt.method) email = h('input', { type: 'email', id: 'sp-email', name: 'email', autocomplete: 'email', spellcheck: 'false' });
  const submit = h('button', { type: 'submit', class: 'sp-btn' }, t('continue'));
  const form = h('form', { class: 'sp-form', novalidate: true },
    para(t('patientLead'), 'sp-lead'),
    field(t('firstName'), first), field(t('lastName'), last), dob,
    email ? field(t('emailOptional'), email, t('emailOptionalHint')) : null,
    actions(submit, button(t('back'), () => go('time'), 'sp-btn sp-secondary')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const draft = { firstName: first.value.trim(), lastName: last.value.trim(), m: month.value.trim(), d: day.value.trim(), y: year.value.trim() };
    attempt.draft = draft;
    let bad = null;
    const need = (input, ok, message) => {
      setError(input, ok ? '' : message);
      if (!ok && !bad) bad = input;
    };
    need(first, draft.firstName, t('needFirst'));
    need(last, draft.lastName, t('needLast'));
    const dobValue = isoDate(draft);
    dobError(dobValue ? '' : t('badDob'));
    if (!dobValue && !bad) bad = dob.querySelector('input');
    if (email && email.value.trim()) need(email, emailOk(email.value.trim()), t('badEmail'));
    if (bad) {
      bad.focus();
      announce(t('fixErrors'));
      return;
    }
    const body = { firstName: draft.firstName, lastName: draft.lastName, dateOfBirth: dobValue };
    if (email && email.value.trim()) body.email = email.value.trim();
    run(submit, form, async () => {
      const patient = await api('POST', '/attempt/patient', body, { idem: true });
      attempt.patient = { firstName: patient.firstName, lastName: patient.lastName };
      go('review');
    }, (err) => {
      if (err.code === 'not_verified') { go('contact'); return true; }
      if (err.code === 'ambiguous_match') {
        const phone = (locOf() || {}).phone;
        alertBox(form, `${t('ambiguous')}${phone ? ` ${t('orCall', { phone: phoneText(phone) })}` : ''}`);
        return true;
      }
      if (err.code === 'validation_failed') {
        for (const f of err.body.errors || []) {
          if (/first/i.test(f.field)) setError(first, t('needFirst'));
          else if (/last/i.test(f.field)) setError(last, t('needLast'));
          else if (/birth/i.test(f.field)) dobError(t('badDob'));
        }
        alertBox(form, t('fixErrors'));
        return true;
      }
      return false;
    });
  });
  screen('patient', t('patientTitle'), chosenBox(), form);
}

register('patient', stepPatient);
