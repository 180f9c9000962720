/* slotproof loader: <script src="https://HOST/widget/v1/loader.js" data-key="pk_…" async>
 * Mounts the booking frame into [data-slotproof], else a floating button that opens it in a
 * modal dialog. No cookies, no inline script, no style attributes (styles go through the CSSOM,
 * which a strict host CSP allows; the host needs HOST in script-src and frame-src). Messages
 * from the frame are checked against HOST's origin and re-dispatched on window as
 * CustomEvents (slotproof:ready|step|booked|resize) with only the contract's fields.
 * Served with comments and spaces stripped (app/embed/assets.py); budget 1.8 KB gzipped, so
 * every byte counts (== where both sides are strings or objects). */
(function () {
  var d = document, html = d.documentElement, me = d.currentScript;
  if (!me || me.slotproof) return;
  me.slotproof = 1;
  /* the server copies the loader* strings of strings.js here */
  var STRINGS = {"__strings__":0};
  var origin = new URL(me.src).origin;
  var lang = (me.dataset.lang || html.lang || navigator.language || 'en').slice(0, 2).toLowerCase();
  var L = STRINGS[lang] || STRINGS.en;
  var src = origin + '/widget/v1/frame?key=' + encodeURIComponent(me.dataset.key) + '&lang=' + encodeURIComponent(lang);
  var FIELDS = ['step', 'appointmentId', 'startDateTime', 'height'];
  var frames = [], modal, button;

  function el(tag, css, attrs, parent) {
    var e = d.createElement(tag);
    e.style.cssText = css;
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function mount(box, inModal) {
    var rec = { modal: inModal };
    rec.f = el('iframe', 'width:100%;border:0;display:block;height:' + (inModal ? '100%' : '560px'), {
      src: src + (inModal ? '&mode=modal' : ''), title: L.loaderBook
    }, box);
    /* no word from the frame in 8 s: offer a plain link to the same booking page */
    rec.t = setTimeout(function () {
      rec.a = el('a', '', { href: src, target: '_blank', rel: 'noopener' });
      rec.a.textContent = L.loaderBook;
      rec.f.style.display = 'none';
      box.insertBefore(rec.a, rec.f);
    }, 8000);
    frames.push(rec);
    return rec;
  }

  addEventListener('message', function (e) {
    var m = e.data, rec;
    for (var i = 0; i < frames.length; i++) if (frames[i].f.contentWindow == e.source) rec = frames[i];
    if (!rec || e.origin != origin || !m || typeof m.type != 'string') return;
    if (m.type == 'slotproof:ready') {
      clearTimeout(rec.t);
      if (rec.a) rec.a.remove();
      rec.f.style.display = 'block';
    }
    if (m.type == 'slotproof:resize' && !rec.modal && m.height > 0) rec.f.style.height = Math.min(m.height, 2e4) + 'px';
    if (m.type == 'slotproof:close' && rec.modal) close();
    if (!/^slotproof:(ready|step|booked|resize)$/.test(m.type)) return;
    /* only the contract's fields (JSON.stringify keeps the listed names) */
    dispatchEvent(new CustomEvent(m.type, { detail: JSON.parse(JSON.stringify(m, FIELDS)) }));
  });

  function open() {
    if (!modal) {
      var o = el('div', 'position:fixed;inset:0;z-index:2147483647;background:#0009;display:grid;place-items:center', {}, d.body);
      var dlg = el('div', 'background:#fff;width:100%;max-width:560px;height:100%;max-height:760px;display:flex;flex-flow:column;border-radius:8px', {
        role: 'dialog', 'aria-modal': 'true', 'aria-label': L.loaderBook
      }, o);
      /* focus trap: Shift+Tab from the close button goes to the frame's last control (asked
       * of the frame), Tab past the frame's last control comes back to the close button */
      var head = el('span', '', { tabindex: 0 }, dlg);
      var x = el('button', 'align-self:end;margin:4px;width:44px;height:44px;border:0;background:#fff;color:#000;font:28px sans-serif', { 'aria-label': L.loaderClose }, dlg);
      x.textContent = '×';
      x.onclick = close;
      var rec = mount(el('div', 'flex:1;min-height:0', {}, dlg), true);
      el('span', '', { tabindex: 0 }, dlg).onfocus = function () { x.focus(); };
      head.onfocus = function () {
        rec.f.focus();
        rec.f.contentWindow.postMessage({ type: 'slotproof:focus', edge: 'last' }, origin);
      };
      o.onclick = function (e) { if (e.target == o) close(); };
      modal = { o: o, dlg: dlg, x: x };
    }
    modal.back = d.activeElement;
    modal.overflow = html.style.overflow;
    html.style.overflow = 'hidden';
    shown(1);
    modal.x.focus();
  }

  function close() {
    if (!modal || modal.o.style.display == 'none') return;
    html.style.overflow = modal.overflow;
    shown(0);
    (modal.back || button).focus();
  }

  /* the modal shown or hidden, with its key and focus listeners */
  function shown(on) {
    var f = on ? 'addEventListener' : 'removeEventListener';
    modal.o.style.display = on ? 'grid' : 'none';
    button.setAttribute('aria-expanded', !!on);
    d[f]('keydown', onKey, true);
    d[f]('focusin', onFocus, true);
  }

  function onKey(e) {
    if (e.key == 'Escape') close();
  }

  function onFocus(e) {
    if (!modal.dlg.contains(e.target)) modal.x.focus();
  }

  function start() {
    var boxes = d.querySelectorAll('[data-slotproof]');
    for (var i = 0; i < boxes.length; i++) mount(boxes[i], false);
    if (boxes.length) return;
    button = el('button', 'position:fixed;right:16px;bottom:16px;z-index:2147483646;padding:12px 20px;border:0;border-radius:99px;background:#0b5cab;color:#fff;font:600 16px sans-serif', {
      'aria-haspopup': 'dialog', 'aria-expanded': false, class: 'slotproof-launcher'
    }, d.body);
    button.textContent = L.loaderBook;
    button.onclick = open;
  }

  if (d.readyState == 'loading') d.addEventListener('DOMContentLoaded', start);
  else start();
})();
