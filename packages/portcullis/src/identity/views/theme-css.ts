/**
 * The pages' stylesheet, built once from the theme. Colours are chosen so that text meets
 * WCAG 2.2 AA contrast (1.4.3: 4.5:1 for body text) and focus indicators and input borders meet
 * 3:1 (1.4.11 non-text contrast), also when the operator picks an accent colour of their own.
 */
import type { IdentityTheme } from '../../config/types.ts';

/** The colours of one scheme. All are #rrggbb. */
export interface Palette {
  /** Page background around the card. */
  background: string;
  /** The card (<main>) background: most text sits on it. */
  surface: string;
  inputBackground: string;
  text: string;
  /** Secondary text (intros, hints): still 4.5:1 on surface and background. */
  muted: string;
  /** Input and secondary-button borders: 3:1 on surface and input background. */
  border: string;
  errorText: string;
  errorBackground: string;
  /** The default accent of this scheme, used when the theme sets no colour. */
  accent: string;
}

export const LIGHT_PALETTE: Readonly<Palette> = Object.freeze({
  background: '#f3f4f6',
  surface: '#ffffff',
  inputBackground: '#ffffff',
  text: '#1b1f24',
  muted: '#4a5260',
  border: '#6e7681',
  errorText: '#a3160c',
  errorBackground: '#fdecea',
  accent: '#1f5ccc',
});

export const DARK_PALETTE: Readonly<Palette> = Object.freeze({
  background: '#0d1014',
  surface: '#171b21',
  inputBackground: '#0f1216',
  text: '#e6e8eb',
  muted: '#a4adb8',
  border: '#7d8692',
  errorText: '#ffb4aa',
  errorBackground: '#3d1512',
  accent: '#7eb0ff',
});

/** WCAG AA minimum for normal-size text (1.4.3). */
export const MIN_TEXT_CONTRAST = 4.5;
/** WCAG AA minimum for focus indicators and component boundaries (1.4.11). */
export const MIN_NON_TEXT_CONTRAST = 3;

const WHITE = '#ffffff';
const NEAR_BLACK = '#111111';
const BLACK = '#000000';

// Only this exact shape may reach the stylesheet: config validates `color` already, but a
// value that slipped through would otherwise be CSS injection (`red;} body{...`).
const HEX_COLOR = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;

/** `#rgb` or `#rrggbb` as lowercase `#rrggbb`; null for anything else. */
export function normalizeHexColor(value: string): string | null {
  if (!HEX_COLOR.test(value)) return null;
  const hex = value.slice(1).toLowerCase();
  return hex.length === 3 ? `#${hex[0]}${hex[0]}${hex[1]}${hex[1]}${hex[2]}${hex[2]}` : `#${hex}`;
}

/** Relative luminance of an sRGB colour, as defined by WCAG 2.x. */
export function relativeLuminance(color: string): number {
  const hex = normalizeHexColor(color);
  if (hex === null) throw new TypeError(`not a hex colour: ${color}`);
  const [r, g, b] = [1, 3, 5].map((i) => linearChannel(parseInt(hex.slice(i, i + 2), 16) / 255)) as [
    number,
    number,
    number,
  ];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function linearChannel(c: number): number {
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** WCAG contrast ratio of two colours, 1 to 21. */
export function contrastRatio(a: string, b: string): number {
  const la = relativeLuminance(a);
  const lb = relativeLuminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/**
 * The label colour for a button filled with `accent`: white or near-black, whichever contrasts
 * more. For mid-luminance accents neither reaches 4.5:1; pure black always does then (white below
 * 4.5:1 means a luminance above 0.183, against which black gives more than 4.6:1).
 */
export function textOnAccent(accent: string): string {
  const white = contrastRatio(accent, WHITE);
  const dark = contrastRatio(accent, NEAR_BLACK);
  if (white >= dark && white >= MIN_TEXT_CONTRAST) return WHITE;
  return dark >= MIN_TEXT_CONTRAST ? NEAR_BLACK : BLACK;
}

/** Colours derived for one scheme from its palette and the accent in use. */
interface SchemeColors {
  palette: Readonly<Palette>;
  accent: string;
  onAccent: string;
  /** Links use the accent when it is readable on the card, otherwise the body text colour. */
  link: string;
  /** The focus outline uses the accent when it is visible on the card, otherwise the text colour. */
  focus: string;
}

function schemeColors(palette: Readonly<Palette>, customAccent: string | null): SchemeColors {
  const accent = customAccent ?? palette.accent;
  const readable = (c: string, min: number): boolean =>
    contrastRatio(c, palette.surface) >= min && contrastRatio(c, palette.background) >= min;
  return {
    palette,
    accent,
    onAccent: textOnAccent(accent),
    link: readable(accent, MIN_TEXT_CONTRAST) ? accent : palette.text,
    focus: readable(accent, MIN_NON_TEXT_CONTRAST) ? accent : palette.text,
  };
}

function variables(scheme: 'light' | 'dark', c: SchemeColors): string {
  const p = c.palette;
  return [
    `color-scheme: ${scheme};`,
    `--bg: ${p.background};`,
    `--surface: ${p.surface};`,
    `--input-bg: ${p.inputBackground};`,
    `--text: ${p.text};`,
    `--muted: ${p.muted};`,
    `--border: ${p.border};`,
    `--error-text: ${p.errorText};`,
    `--error-bg: ${p.errorBackground};`,
    `--accent: ${c.accent};`,
    `--on-accent: ${c.onAccent};`,
    `--link: ${c.link};`,
    `--focus: ${c.focus};`,
  ]
    .map((line) => `  ${line}`)
    .join('\n');
}

const RULES = `*, *::before, *::after { box-sizing: border-box; }
html {
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 100%;
  line-height: 1.5;
  background: var(--bg);
  color: var(--text);
}
body {
  margin: 0;
  min-height: 100vh;
  display: flex;
  flex-direction: column;
  align-items: center;
  padding: 2rem 1rem;
}
.brand { margin-bottom: 1.5rem; text-align: center; }
.brand-logo { display: block; max-height: 4rem; max-width: 12rem; }
.brand-name { margin: 0; font-size: 1.25rem; font-weight: 600; }
main {
  width: 100%;
  max-width: 26rem;
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: 0.75rem;
  padding: 2rem;
}
h1 { margin: 0 0 0.5rem; font-size: 1.5rem; line-height: 1.25; }
p { margin: 0 0 1rem; }
.intro, .hint { color: var(--muted); }
.hint { font-size: 0.875rem; margin: 0.25rem 0 0; }
.field { margin-bottom: 1rem; }
label { display: block; margin-bottom: 0.25rem; font-weight: 600; }
input {
  width: 100%;
  font: inherit;
  padding: 0.625rem 0.75rem;
  color: var(--text);
  background: var(--input-bg);
  border: 1px solid var(--border);
  border-radius: 0.375rem;
}
button {
  font: inherit;
  font-weight: 600;
  padding: 0.625rem 1rem;
  border: 1px solid transparent;
  border-radius: 0.375rem;
  cursor: pointer;
}
button:hover { text-decoration: underline; }
.primary { width: 100%; background: var(--accent); color: var(--on-accent); border-color: var(--accent); }
.secondary { background: transparent; color: var(--text); border-color: var(--border); }
.actions { display: flex; flex-wrap: wrap; gap: 0.75rem; }
.actions button { flex: 1 1 8rem; width: auto; }
a { color: var(--link); text-decoration: underline; }
.alert {
  padding: 0.75rem 1rem;
  color: var(--error-text);
  background: var(--error-bg);
  border: 1px solid var(--error-text);
  border-radius: 0.375rem;
}
.scopes { margin: 0 0 1.5rem; padding-left: 1.25rem; }
.scopes li { margin-bottom: 0.25rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
/* WCAG 2.4.7 / 2.4.13: a focus indicator that is always visible, 3px, offset from the control. */
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
@media (forced-colors: active) {
  .primary, .secondary, input { border: 1px solid ButtonText; }
  :focus-visible { outline-color: Highlight; }
}
`;

/**
 * The stylesheet for a theme: light, dark or both (mode auto: light by default, dark under
 * `prefers-color-scheme: dark`), with the theme's accent colour when it is a valid hex colour.
 */
export function buildStylesheet(theme: Pick<IdentityTheme, 'color' | 'mode'>): string {
  const custom = theme.color === null ? null : normalizeHexColor(theme.color);
  const light = schemeColors(LIGHT_PALETTE, custom);
  const dark = schemeColors(DARK_PALETTE, custom);
  const header = '/* Portcullis identity pages. Generated from the identity theme. */\n';
  if (theme.mode === 'light') return `${header}:root {\n${variables('light', light)}\n}\n${RULES}`;
  if (theme.mode === 'dark') return `${header}:root {\n${variables('dark', dark)}\n}\n${RULES}`;
  return (
    `${header}:root {\n${variables('light', light)}\n}\n` +
    `@media (prefers-color-scheme: dark) {\n:root {\n${variables('dark', dark)}\n}\n}\n${RULES}`
  );
}
