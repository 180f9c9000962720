/* The demo page's own script: records what the host page receives from the widget, both the
 * raw postMessage events and the loader's window CustomEvents, and lists them on the page.
 * Tests read window.__slotproofEvents / window.__slotproofCustomEvents. */
(function () {
  'use strict';
  var loader = document.querySelector('script[src*="/widget/v1/loader.js"]');
  var origin = loader ? new URL(loader.src, location.href).origin : location.origin;
  var posted = (window.__slotproofEvents = []);
  var custom = (window.__slotproofCustomEvents = []);

  function show(type, detail) {
    var list = document.getElementById('events');
    if (!list || type === 'slotproof:resize') return;
    var item = document.createElement('li');
    item.textContent = type + ' ' + JSON.stringify(detail);
    list.appendChild(item);
  }

  addEventListener('message', function (e) {
    if (e.origin !== origin || !e.data || !/^slotproof:/.test(e.data.type)) return;
    posted.push(e.data);
  });
  ['slotproof:ready', 'slotproof:step', 'slotproof:booked', 'slotproof:resize'].forEach(function (type) {
    addEventListener(type, function (e) {
      custom.push({ type: type, detail: e.detail });
      show(type, e.detail);
    });
  });
})();
