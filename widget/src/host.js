/* Talking to the host page: only slotproof:ready / step / booked / resize (and close for the
 * modal); never PHI. Focus wrapping for the loader's modal. */
import { visit } from './state.js';

const root = document.getElementById('sp');
const ancestor = location.ancestorOrigins && location.ancestorOrigins[0];
const hostOrigin = ancestor && ancestor !== 'null' ? ancestor : '*';

export function emit(type, data) {
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

export function ready() {
  if (readySent) return;
  readySent = true;
  emit('slotproof:ready', {});
  reportHeight();
}

/** Whether the patient has pressed a key or the pointer yet (focus moves only then), and when
 * last (an active patient's hold is renewed). */
export const activity = { interacted: false, last: Date.now() };

export function listen(onOnline) {
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
    if (e.key === 'Escape' && visit.mode === 'modal') emit('slotproof:close', {});
  });
  for (const type of ['keydown', 'pointerdown']) {
    addEventListener(type, () => {
      activity.interacted = true;
      activity.last = Date.now();
    }, true);
  }
  addEventListener('offline', () => onOnline(false));
  addEventListener('online', () => onOnline(true));
}
