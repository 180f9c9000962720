/* The frame's language (?lang=, else the browser's) and its strings and formatters. */
import { fillIn, formatters, pickLang } from './text.js';

const ALL = self.SlotproofStrings;
export const lang = pickLang(new URLSearchParams(location.search).get('lang') || navigator.language, ALL);
export const T = ALL[lang];
export const t = (name, vars) => fillIn(T, name, vars);
export const F = formatters(T.locale, T.dayPeriods);
/** 'Monday, March 9, 2026 at 9:00 AM' in the zone. */
export const when = (ms, tz) => t('dateAtTime', { date: F.date(ms, tz), time: F.time(ms, tz) });
