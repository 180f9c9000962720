/* Step: the contact to verify and its code. After the code is sent the chosen time is held
 * (the server holds only for attempts that sent a code). Wrong codes say how many tries are
 * left; a locked verification disables what cannot work and says what the patient can do. */
import { api } from '../api.js';
import { actions, alertBox, announce, button, field, h, para, setError } from '../dom.js';
import { every, go, register, run, screen, startOver } from '../flow.js';
import { t } from '../i18n.js';
import { attempt, locOf, visit } from '../state.js';
import { codeOk, emailOk, phoneOk } from '../checks.js';
import { phoneText } from '../text.js';
import { chosenBox, lostSlot, placeHold, tryHold } from '../held.js';

const CODE_TTL = 10 * 60000; // codes are valid 10 minutes (contract)
const RESEND_WAIT = 60000; // one send per contact per minute (contract)

function stepContact() {
  const channel = attempt.missing[0] || (attempt.method === 'SMS' ? 'SMS' : 'EMAIL');
  const section = screen('contact', t(channel === 'EMAIL' ? 'contactEmailTitle' : 'contactPhoneTitle'), chosenBox());
  const area = h('div', {});
  section.append(area);
  if (attempt.sent[channel]) codeForm(area, channel, attempt.sent[channel]);
  else contactForm(area, channel);
}

const callLine = () => {
  const phone = (locOf() || {}).phone;
  return phone ? ` ${t('orCall', { phone: phoneText(phone) })}` : '';
};

function contactForm(area, channel, focus) {
  const isEmail = channel === 'EMAIL';
  const input = h('input', isEmail
    ? { type: 'email', id: 'sp-contact', name: 'email', autocomplete: 'email', required: true, spellcheck: 'false' }
    : { type: 'tel', id: 'sp-contact', name: 'phone', autocomplete: 'tel', required: true, inputmode: 'tel' });
  if (attempt.sent[channel]) input.value = attempt.sent[channel].to;
  const countries = visit.cfg.allowedPhoneCountries || [];
  const northAmerica = countries.length && countries.every((c) => c === 'US' || c === 'CA');
  const hint = isEmail ? t('emailHint')
    : !countries.length || countries.join() === 'US' ? t('phoneHintUS')
      : northAmerica ? t('phoneHintNA') : t('phoneHint', { countries: countries.join(', ') });
  const submit = h('button', { type: 'submit', class: 'sp-btn' }, t('sendCode'));
  const form = h('form', { class: 'sp-form', novalidate: true },
    para(t(isEmail ? 'whyEmail' : 'whyPhone'), 'sp-lead'),
    field(t(isEmail ? 'email' : 'phone'), input, hint),
    actions(submit, button(t('back'), () => go('time'), 'sp-btn sp-secondary')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = input.value.trim();
    const ok = isEmail ? emailOk(value) : phoneOk(value);
    if (!setError(input, ok ? '' : t(isEmail ? 'badEmail' : 'badPhone'))) {
      input.focus();
      return;
    }
    sendCode(submit, form, channel, value, () => codeForm(area, channel, attempt.sent[channel], true), input);
  });
  area.replaceChildren(form);
  if (focus) input.focus();
}

/** After a code went out: hold the chosen time, unless it is held already. */
async function holdAfterSend(area) {
  if (attempt.hold || !attempt.slot) return;
  await run(null, area, () => tryHold(attempt.slot), (e) => lostSlot(e, area, (alt) => run(null, area, () => tryHold(alt).then(() => go('contact')))));
}

function sendCode(btn, area, channel, value, then, input) {
  run(btn, area, async () => {
    await api('POST', '/attempt/send-code', channel === 'EMAIL' ? { email: value } : { phone: value });
    attempt.sent[channel] = { to: value, at: Date.now() };
    attempt.resendAt = Date.now() + RESEND_WAIT;
    then();
    announce(t('codeSent', { to: value }));
    await holdAfterSend(document.getElementById('sp-code-area') || area);
  }, (e) => {
    if (e.code === 'send_rate_limited') {
      attempt.resendAt = Date.now() + (Number(e.body.retryAfterSeconds) || 60) * 1000;
      const ours = e.body.liveCode === true;
      if (ours && (!attempt.sent[channel] || attempt.sent[channel].to !== value)) attempt.sent[channel] = { to: value, at: Date.now() };
      if (ours) then();
      const target = document.getElementById('sp-code-area') || area;
      const s = Math.ceil((attempt.resendAt - Date.now()) / 1000);
      // a code sent for another booking window (a second tab, "start over") does not work here
      alertBox(target, t(ours ? 'sendLimited' : 'sendLimitedElsewhere', { s }));
      return true;
    }
    if (e.code === 'too_many_attempts') {
      alertBox(area, `${t('codeLocked')}${callLine()}`, [button(t('startOver'), startOver)]);
      return true;
    }
    if ((e.code === 'validation_failed' || e.code === 'phone_not_allowed') && input) {
      setError(input, t(channel === 'EMAIL' ? 'badEmail' : 'badPhone'));
      input.focus();
      return true;
    }
    if (e.code === 'no_verification') {
      attempt.missing = [];
      go('afterTime');
      return true;
    }
    return false;
  });
}

function codeForm(area, channel, sent, focus) {
  const input = h('input', { type: 'text', id: 'sp-code', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6', pattern: '[0-9]*', required: true });
  const submit = h('button', { type: 'submit', class: 'sp-btn' }, t('verify'));
  const resend = button(t('resend'), () => sendCode(resend, form, channel, sent.to, () => codeForm(area, channel, attempt.sent[channel], true)), 'sp-btn sp-secondary', { id: 'sp-resend' });
  const countdown = h('p', { class: 'sp-countdown', id: 'sp-countdown' });
  const change = button(t(channel === 'EMAIL' ? 'changeEmail' : 'changePhone'), () => contactForm(area, channel, true), 'sp-link');
  const form = h('form', { class: 'sp-form', novalidate: true, id: 'sp-code-area' },
    para(t('codeSentTo', { to: sent.to }), 'sp-lead'),
    field(t('code'), input, t('codeHint')),
    actions(submit, resend),
    countdown, change);
  let locked = false;
  const lock = () => {
    // nothing on this booking can verify any more: say so, and offer what works
    locked = true;
    for (const el of [input, submit, resend]) {
      el.disabled = true;
      el.setAttribute('data-locked', '');
    }
    countdown.textContent = '';
    alertBox(form, `${t('codeLocked')}${callLine()}`, [button(t('startOver'), startOver)]);
  };
  const tick = () => {
    if (locked) return;
    const left = Math.ceil((attempt.resendAt - Date.now()) / 1000);
    resend.disabled = left > 0;
    countdown.textContent = left > 0 ? t('resendIn', { s: left }) : '';
  };
  every(1000, tick);
  tick();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const code = input.value.replace(/\s/g, '');
    if (!setError(input, codeOk(code) ? '' : t('badCode'))) {
      input.focus();
      return;
    }
    run(submit, form, async () => {
      const body = channel === 'EMAIL' ? { code, email: sent.to } : { code, phone: sent.to };
      const r = await api('POST', '/attempt/verify-code', body);
      if (!r.verified) {
        const expired = Date.now() - sent.at > CODE_TTL;
        const left = r.triesLeft;
        if (left === 0) { lock(); return; }
        const tries = typeof left === 'number' ? ` ${t(left === 1 ? 'lastTry' : 'triesLeft', { n: left })}` : '';
        setError(input, `${t(expired ? 'codeExpired' : 'codeWrong')}${tries}`);
        input.select();
        input.focus();
        return;
      }
      attempt.missing = r.missingVerifications || [];
      announce(t('verified'));
      // a verified attempt is held for the full time: hold again now (the short hold of an
      // unverified attempt would otherwise run out while the patient types their name); if
      // that fails, the first hold stays shown and its lapse is said
      if (!attempt.missing.length && attempt.hold) await placeHold(attempt.slot).catch(() => {});
      if (attempt.missing.length) go('contact');
      else go('afterTime');
    }, (e) => {
      if (e.code === 'too_many_attempts') { lock(); return true; }
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

register('contact', stepContact);
