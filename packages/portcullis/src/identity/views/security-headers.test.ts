import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PAGE_SECURITY_HEADERS, setPageSecurityHeaders } from './security-headers.ts';

describe('setPageSecurityHeaders', () => {
  it('lists the agreed headers', () => {
    const headers = new Map(PAGE_SECURITY_HEADERS);
    assert.equal(
      headers.get('Content-Security-Policy'),
      "default-src 'none'; style-src 'self'; img-src 'self' https: data:; " +
        "form-action 'self' https: http://localhost:* http://127.0.0.1:*; frame-ancestors 'none'; base-uri 'none'",
    );
    assert.equal(headers.get('Referrer-Policy'), 'no-referrer');
    assert.equal(headers.get('X-Content-Type-Options'), 'nosniff');
    assert.equal(headers.get('X-Frame-Options'), 'DENY');
    assert.equal(headers.get('Cache-Control'), 'no-store');
    assert.equal(headers.get('Pragma'), 'no-cache');
    assert.equal(headers.get('Cross-Origin-Opener-Policy'), 'same-origin');
    assert.equal(headers.size, 7);
    assert.ok(!headers.has('Permissions-Policy'));
    assert.ok(Object.isFrozen(PAGE_SECURITY_HEADERS));
  });

  it('the policy allows no script at all', () => {
    const csp = new Map(PAGE_SECURITY_HEADERS).get('Content-Security-Policy') ?? '';
    assert.doesNotMatch(csp, /script-src|unsafe-inline|unsafe-eval/);
  });

  it('sets every header on a real response', async () => {
    const server = createServer((_req, res) => {
      setPageSecurityHeaders(res);
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
      await response.text();
      for (const [name, value] of PAGE_SECURITY_HEADERS) assert.equal(response.headers.get(name), value, name);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
