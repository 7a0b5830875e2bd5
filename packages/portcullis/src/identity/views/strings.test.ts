import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { de, en, formatString, resolveStrings, stringsFor, throttledMessage, withFallback } from './strings.ts';

const placeholders = (s: string): string[] => [...s.matchAll(/\{([a-zA-Z][a-zA-Z0-9]*)\}/g)].map((m) => m[1] ?? '').sort();

describe('string tables', () => {
  it('English and German are complete, non-empty and use the same placeholders', () => {
    assert.deepEqual(Object.keys(de).sort(), Object.keys(en).sort());
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      assert.notEqual(en[key].trim(), '', `en.${key}`);
      assert.notEqual(de[key].trim(), '', `de.${key}`);
      assert.deepEqual(placeholders(de[key]), placeholders(en[key]), `placeholders of ${key}`);
    }
  });

  it('German is really translated', () => {
    assert.notEqual(de.loginTitle, en.loginTitle);
    assert.notEqual(de.errorInvalidCredentials, en.errorInvalidCredentials);
  });

  it('uses one generic credentials error and a separate throttling error', () => {
    assert.equal(en.errorInvalidCredentials, 'Incorrect username or password.');
    assert.equal(throttledMessage(en, 5), 'Too many attempts. Try again in 5 minutes.');
    assert.equal(throttledMessage(en, 1), 'Too many attempts. Try again in 1 minute.');
    // No string may tell an attacker that an account exists or is disabled.
    for (const table of [en, de]) {
      for (const [key, value] of Object.entries(table)) {
        assert.doesNotMatch(value, /disabled|deaktiviert|does not exist|not found|unknown user|existiert nicht/i, key);
      }
    }
  });
});

describe('stringsFor', () => {
  it('picks the exact language, then the primary subtag, then English', () => {
    assert.equal(stringsFor('de'), stringsFor('de'));
    assert.equal(stringsFor('de').loginTitle, de.loginTitle);
    assert.equal(stringsFor('de-AT').loginTitle, de.loginTitle);
    assert.equal(stringsFor('DE_de').loginTitle, de.loginTitle);
    assert.equal(stringsFor('fr').loginTitle, en.loginTitle);
    assert.equal(stringsFor('').loginTitle, en.loginTitle);
    assert.equal(stringsFor('<script>').loginTitle, en.loginTitle);
  });

  it('reports the language actually used for <html lang>', () => {
    assert.equal(resolveStrings('de-CH').lang, 'de');
    assert.equal(resolveStrings('fr-FR').lang, 'en');
    assert.equal(resolveStrings('en').lang, 'en');
  });

  it('falls back to English key by key', () => {
    const t = withFallback({ loginTitle: 'Einloggen', loginSubmit: '' });
    assert.equal(t.loginTitle, 'Einloggen');
    assert.equal(t.loginSubmit, en.loginSubmit, 'empty strings fall back');
    assert.equal(t.consentAllow, en.consentAllow);
    assert.ok(Object.isFrozen(t));
    assert.deepEqual(Object.keys(t).sort(), Object.keys(en).sort());
  });

  it('does not take keys from the prototype chain', () => {
    const table = Object.create({ loginTitle: 'inherited' }) as Record<string, string>;
    assert.equal(withFallback(table).loginTitle, en.loginTitle);
  });
});

describe('formatString', () => {
  it('fills known placeholders and keeps unknown ones', () => {
    assert.equal(formatString('Hi {name}, {other}', { name: 'Ann' }), 'Hi Ann, {other}');
    assert.equal(formatString('{n} minutes', { n: 3 }), '3 minutes');
  });

  it('inserts values literally, without replacement patterns or recursion', () => {
    assert.equal(formatString('to {client}.', { client: "$& $' $` {client}" }), "to $& $' $` {client}.");
  });

  it('ignores placeholders named after Object.prototype members', () => {
    assert.equal(formatString('{constructor}', {}), '{constructor}');
  });

  it('rounds throttling waits up and never below one minute', () => {
    assert.equal(throttledMessage(en, 0.2), en.errorThrottledOne);
    assert.equal(throttledMessage(en, 2.1), 'Too many attempts. Try again in 3 minutes.');
    assert.equal(throttledMessage(en, Number.NaN), en.errorThrottledOne);
    assert.match(throttledMessage(de, 4), /4 Minuten/);
  });
});
