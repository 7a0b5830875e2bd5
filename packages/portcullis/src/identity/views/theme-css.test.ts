import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildStylesheet,
  contrastRatio,
  DARK_PALETTE,
  LIGHT_PALETTE,
  MIN_NON_TEXT_CONTRAST,
  MIN_TEXT_CONTRAST,
  normalizeHexColor,
  relativeLuminance,
  textOnAccent,
  type Palette,
} from './theme-css.ts';

/** The value of a custom property in the first `:root` block of `css` after `from`. */
function variable(css: string, name: string, from = 0): string | undefined {
  const match = new RegExp(`--${name}: (#[0-9a-f]{6});`).exec(css.slice(from));
  return match?.[1];
}

describe('colour maths', () => {
  it('computes WCAG luminance and contrast', () => {
    assert.equal(relativeLuminance('#000000'), 0);
    assert.equal(relativeLuminance('#ffffff'), 1);
    assert.equal(contrastRatio('#000', '#fff'), 21);
    assert.equal(contrastRatio('#fff', '#000'), 21);
    assert.equal(contrastRatio('#777777', '#777777'), 1);
    // #767676 on white is the well-known 4.54:1 boundary grey.
    assert.equal(contrastRatio('#767676', '#ffffff').toFixed(2), '4.54');
  });

  it('accepts only #rgb and #rrggbb', () => {
    assert.equal(normalizeHexColor('#ABC'), '#aabbcc');
    assert.equal(normalizeHexColor('#1F5ccc'), '#1f5ccc');
    for (const bad of ['red', '#abcd', '#12345g', ' #abc', '#abc ', '#abc;}', 'url(x)', '']) {
      assert.equal(normalizeHexColor(bad), null, bad);
    }
    assert.throws(() => relativeLuminance('red'), TypeError);
  });

  it('picks a label colour with at least 4.5:1 on every #rgb accent', () => {
    for (let i = 0; i < 4096; i++) {
      const accent = `#${i.toString(16).padStart(3, '0')}`;
      const ratio = contrastRatio(accent, textOnAccent(accent));
      assert.ok(ratio >= MIN_TEXT_CONTRAST, `${accent}: ${ratio}`);
    }
  });

  it('uses white on dark accents and near-black on light ones', () => {
    assert.equal(textOnAccent('#1f5ccc'), '#ffffff');
    assert.equal(textOnAccent('#ffdd00'), '#111111');
  });
});

describe('default palettes meet WCAG AA', () => {
  const check = (name: string, p: Readonly<Palette>) => {
    it(`${name}: text and muted text reach 4.5:1 on every background`, () => {
      for (const fg of [p.text, p.muted]) {
        for (const bg of [p.surface, p.background, p.inputBackground]) {
          const ratio = contrastRatio(fg, bg);
          assert.ok(ratio >= MIN_TEXT_CONTRAST, `${fg} on ${bg}: ${ratio.toFixed(2)}`);
        }
      }
      assert.ok(contrastRatio(p.errorText, p.errorBackground) >= MIN_TEXT_CONTRAST, 'error text');
      assert.ok(contrastRatio(p.accent, p.surface) >= MIN_TEXT_CONTRAST, 'default accent as link colour');
      assert.ok(contrastRatio(p.accent, textOnAccent(p.accent)) >= MIN_TEXT_CONTRAST, 'button label');
    });
    it(`${name}: input borders reach 3:1`, () => {
      assert.ok(contrastRatio(p.border, p.surface) >= MIN_NON_TEXT_CONTRAST);
      assert.ok(contrastRatio(p.border, p.inputBackground) >= MIN_NON_TEXT_CONTRAST);
    });
  };
  check('light', LIGHT_PALETTE);
  check('dark', DARK_PALETTE);
});

describe('buildStylesheet', () => {
  it('mode auto: light variables plus a prefers-color-scheme dark block', () => {
    const css = buildStylesheet({ color: null, mode: 'auto' });
    const dark = css.indexOf('@media (prefers-color-scheme: dark)');
    assert.ok(dark > 0);
    assert.equal(variable(css, 'bg'), LIGHT_PALETTE.background);
    assert.equal(variable(css, 'bg', dark), DARK_PALETTE.background);
    assert.equal(variable(css, 'accent'), LIGHT_PALETTE.accent);
    assert.equal(variable(css, 'accent', dark), DARK_PALETTE.accent);
  });

  it('mode light and dark: one scheme, no media query', () => {
    const light = buildStylesheet({ color: null, mode: 'light' });
    assert.doesNotMatch(light, /prefers-color-scheme/);
    assert.match(light, /color-scheme: light;/);
    assert.equal(variable(light, 'bg'), LIGHT_PALETTE.background);
    const dark = buildStylesheet({ color: null, mode: 'dark' });
    assert.doesNotMatch(dark, /prefers-color-scheme/);
    assert.match(dark, /color-scheme: dark;/);
    assert.equal(variable(dark, 'bg'), DARK_PALETTE.background);
  });

  it('uses the theme colour as accent in both schemes', () => {
    const css = buildStylesheet({ color: '#C0F', mode: 'auto' });
    assert.equal(variable(css, 'accent'), '#cc00ff');
    assert.equal(variable(css, 'accent', css.indexOf('@media')), '#cc00ff');
    assert.equal(variable(css, 'on-accent'), textOnAccent('#cc00ff'));
  });

  it('falls back to the default accent for anything that is not a hex colour', () => {
    const css = buildStylesheet({ color: 'red;} body { background: url(https://evil.example/) }', mode: 'light' });
    assert.doesNotMatch(css, /evil|red;/);
    assert.equal(variable(css, 'accent'), LIGHT_PALETTE.accent);
  });

  it('keeps links and focus rings readable when the accent is not', () => {
    // Yellow on white is about 1.07:1: links fall back to the text colour.
    const light = buildStylesheet({ color: '#ffff00', mode: 'light' });
    assert.equal(variable(light, 'accent'), '#ffff00');
    assert.equal(variable(light, 'link'), LIGHT_PALETTE.text);
    assert.equal(variable(light, 'focus'), LIGHT_PALETTE.text);
    assert.equal(variable(light, 'on-accent'), '#111111');
    // The same yellow is fine on the dark card.
    const dark = buildStylesheet({ color: '#ffff00', mode: 'dark' });
    assert.equal(variable(dark, 'link'), '#ffff00');
  });

  it('has a visible focus outline and no external resources', () => {
    const css = buildStylesheet({ color: null, mode: 'auto' });
    assert.match(css, /:focus-visible \{ outline: 3px solid var\(--focus\)/);
    assert.doesNotMatch(css, /@import|url\(/);
  });
});
