/* Theme colours, pure (tested with node --test): adjusted, never trusted, so text on the
 * primary colour and the accent used for text on white keep WCAG AA contrast (4.5:1). */

const rgb = (hex) => {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
};

export function luminance(hex) {
  const [r, g, b] = rgb(hex).map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

export const darken = (hex) => `#${rgb(hex).map((v) => Math.round(v * 0.9).toString(16).padStart(2, '0')).join('')}`;

/** CSS custom properties for a setting's theme. */
export function themeVars(theme) {
  const th = theme || {};
  let primary = /^#[0-9a-f]{6}$/i.test(th.primaryColor || '') ? th.primaryColor.toLowerCase() : '#0b5cab';
  let onPrimary = '#ffffff';
  if (contrast(primary, '#ffffff') < 4.5) {
    if (contrast(primary, '#111111') >= 4.5) onPrimary = '#111111';
    else while (contrast(primary, '#ffffff') < 4.5) primary = darken(primary);
  }
  let accent = primary;
  while (contrast(accent, '#ffffff') < 4.5) accent = darken(accent);
  const vars = { '--sp-primary': primary, '--sp-on-primary': onPrimary, '--sp-accent': accent };
  if (typeof th.fontFamily === 'string' && /^[A-Za-z0-9 ,'-]{1,100}$/.test(th.fontFamily)) {
    vars['--sp-font'] = `${th.fontFamily}, system-ui, sans-serif`;
  }
  if (Number.isInteger(th.cornerRadius)) vars['--sp-radius'] = `${Math.min(32, Math.max(0, th.cornerRadius))}px`;
  return vars;
}
