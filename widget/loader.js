/* slotproof loader: <script src="https://HOST/widget/v1/loader.js" data-key="pk_…" async>
 * Mounts the booking frame into [data-slotproof], else a floating button that opens it in a
 * modal dialog. No cookies, no inline script or style attributes (strict host CSP works: allow
 * HOST in script-src and frame-src). Events from the frame are checked against HOST's origin
 * and re-dispatched on window as CustomEvents (slotproof:ready|step|booked|resize). */
(function () {
  'use strict';
  var me = document.currentScript || document.querySelector('script[data-key][src*="/widget/v1/loader.js"]');
  if (!me || me.getAttribute('data-slotproof-loaded')) return;
  me.setAttribute('data-slotproof-loaded', '1');
  var STRINGS = {"__strings__":0}; // the server puts the loader* strings of strings.js here
  var origin = new URL(me.src, location.href).origin;
  var lang = (me.getAttribute('data-lang') || document.documentElement.lang || navigator.language || 'en').slice(0, 2).toLowerCase();
  var L = STRINGS[lang] || STRINGS.en || {};
  var src = origin + '/widget/v1/frame?key=' + encodeURIComponent(me.getAttribute('data-key') || '') + '&lang=' + encodeURIComponent(lang);
  var PUBLIC = { 'slotproof:ready': 1, 'slotproof:step': 1, 'slotproof:booked': 1, 'slotproof:resize': 1 };
  var FIELDS = ['step', 'appointmentId', 'startDateTime', 'height'];
  var frames = [];
  var modal;

  function el(tag, css, attrs) {
    var e = document.createElement(tag);
    for (var k in css) e.style[k] = css[k]; // CSSOM, allowed under style-src without 'unsafe-inline'
    for (k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  function mount(box, inModal) {
    var f = el('iframe', { width: '100%', border: '0', display: 'block', height: inModal ? '100%' : '560px' }, {
      src: src + (inModal ? '&mode=modal' : ''), title: L.loaderTitle, allow: 'clipboard-write'
    });
    var rec = { f: f, box: box, modal: inModal, ready: false };
    // no word from the frame in 8 s: offer a plain link to the same booking page
    rec.timer = setTimeout(function () {
      if (rec.ready) return;
      rec.link = el('a', { display: 'inline-block', padding: '12px 0', font: '600 16px/1.4 system-ui,sans-serif' }, { href: src, target: '_blank', rel: 'noopener' });
      rec.link.textContent = L.loaderBook;
      f.style.display = 'none';
      box.insertBefore(rec.link, f);
    }, 8000);
    frames.push(rec);
    box.appendChild(f);
    return rec;
  }

  addEventListener('message', function (e) {
    var d = e.data, rec;
    if (e.origin !== origin || !d || typeof d.type !== 'string') return;
    for (var i = 0; i < frames.length; i++) if (frames[i].f.contentWindow === e.source) rec = frames[i];
    if (!rec) return;
    if (d.type === 'slotproof:ready' && !rec.ready) {
      rec.ready = true;
      clearTimeout(rec.timer);
      if (rec.link) rec.box.removeChild(rec.link);
      rec.f.style.display = 'block';
    }
    if (d.type === 'slotproof:resize' && !rec.modal && d.height > 0) rec.f.style.height = Math.min(d.height, 20000) + 'px';
    if (d.type === 'slotproof:close' && rec.modal) close();
    if (!PUBLIC[d.type]) return;
    var detail = {};
    for (i = 0; i < FIELDS.length; i++) if (FIELDS[i] in d) detail[FIELDS[i]] = d[FIELDS[i]];
    dispatchEvent(new CustomEvent(d.type, { detail: detail }));
  });

  // ---- floating button + accessible modal dialog ----
  function open() {
    if (!modal) {
      var overlay = el('div', { position: 'fixed', inset: '0', zIndex: '2147483646', background: 'rgba(0,0,0,.55)', display: 'flex', alignItems: 'center', justifyContent: 'center' });
      var dialog = el('div', { position: 'relative', background: '#fff', width: '100%', maxWidth: '560px', height: '100%', maxHeight: '760px', display: 'flex', flexDirection: 'column', borderRadius: '8px', overflow: 'hidden' }, {
        role: 'dialog', 'aria-modal': 'true', 'aria-label': L.loaderTitle
      });
      var x = el('button', { alignSelf: 'flex-end', margin: '4px', minWidth: '44px', minHeight: '44px', border: '0', background: '#fff', color: '#1a1a1a', font: '28px/1 system-ui,sans-serif', cursor: 'pointer' }, { type: 'button', 'aria-label': L.loaderClose });
      x.textContent = '\u00d7';
      x.onclick = close;
      var body = el('div', { flex: '1', minHeight: '0' });
      // focus trap: Tab past the frame's last control comes back to the close button,
      // Shift+Tab from the close button goes to the frame's last control
      var head = el('span', {}, { tabindex: '0' }), tail = el('span', {}, { tabindex: '0' });
      head.onfocus = function () { modal.rec.f.focus(); modal.rec.f.contentWindow.postMessage({ type: 'slotproof:focus', edge: 'last' }, origin); };
      tail.onfocus = function () { x.focus(); };
      dialog.appendChild(head); dialog.appendChild(x); dialog.appendChild(body); dialog.appendChild(tail);
      overlay.appendChild(dialog);
      overlay.onclick = function (e) { if (e.target === overlay) close(); };
      document.body.appendChild(overlay);
      modal = { overlay: overlay, dialog: dialog, x: x, rec: mount(body, true) };
    }
    modal.back = document.activeElement;
    modal.overflow = document.documentElement.style.overflow;
    document.documentElement.style.overflow = 'hidden';
    modal.overlay.style.display = 'flex';
    button.setAttribute('aria-expanded', 'true');
    document.addEventListener('keydown', onKey, true);
    document.addEventListener('focusin', onFocus, true);
    modal.x.focus();
  }

  function close() {
    if (!modal || modal.overlay.style.display === 'none') return;
    modal.overlay.style.display = 'none';
    document.documentElement.style.overflow = modal.overflow;
    button.setAttribute('aria-expanded', 'false');
    document.removeEventListener('keydown', onKey, true);
    document.removeEventListener('focusin', onFocus, true);
    (modal.back && modal.back.focus ? modal.back : button).focus();
  }

  function onKey(e) { if (e.key === 'Escape') { e.preventDefault(); close(); } }
  function onFocus(e) { if (!modal.dialog.contains(e.target)) modal.x.focus(); }

  var button;
  function start() {
    var boxes = document.querySelectorAll('[data-slotproof]');
    if (boxes.length) {
      for (var i = 0; i < boxes.length; i++) mount(boxes[i], false);
      return;
    }
    button = el('button', { position: 'fixed', right: '16px', bottom: '16px', zIndex: '2147483645', padding: '12px 20px', border: '0', borderRadius: '999px', background: '#0b5cab', color: '#fff', font: '600 16px/1.2 system-ui,sans-serif', boxShadow: '0 2px 10px rgba(0,0,0,.3)', cursor: 'pointer' }, {
      type: 'button', 'aria-haspopup': 'dialog', 'aria-expanded': 'false', 'class': 'slotproof-launcher'
    });
    button.textContent = L.loaderBook;
    button.onclick = open;
    document.body.appendChild(button);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
