/**
 * What `http.request_done` tells the guard's scenarios about a request, read through a real
 * instance: the client's Referer and whether it sent cookies as it sent them, before the guard
 * takes its own clearance cookie out of the request (a browser holding only that cookie keeps
 * cookies: the slow-scraper detector must not count it as cookieless).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBus, type RequestDoneEvent } from '../src/kernel/events.ts';
import { silentLogger } from '../src/kernel/logger.ts';
import { CLEARANCE_COOKIE } from '../src/guard/challenge.ts';
import { start, type Instance } from '../src/main.ts';

function get(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('http.request_done', () => {
  const events = new EventBus();
  const seen: RequestDoneEvent[] = [];
  let dir: string;
  let instance: Instance;
  let url: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-event-'));
    const config = join(dir, 'Portcullisfile');
    writeFileSync(config, `{\n\tadmin off\n\tdatabase sqlite ${join(dir, 'guard.db')}\n\tguard\n}\n\nhttp://127.0.0.1:0 {\n\trespond "ok"\n}\n`);
    events.on('http.request_done', (e) => void seen.push(e));
    instance = await start({ configFile: config, logger: silentLogger(), env: { ...process.env, PORTCULLIS_DATA_DIR: join(dir, 'data') }, events });
    url = `http://127.0.0.1:${instance.addresses().values().next().value!.port}`;
  });
  after(async () => {
    await instance?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The event of the request to `path`, once the scenarios' batch has seen it. */
  async function eventOf(path: string, headers: Record<string, string>): Promise<RequestDoneEvent> {
    assert.equal(await get(`${url}${path}`, headers), 200);
    for (let i = 0; i < 100; i++) {
      const e = seen.find((x) => x.path === path);
      if (e) return e;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail(`no event for ${path}`);
  }

  it('a request with only the guard clearance cookie counts as sending cookies', async () => {
    const e = await eventOf('/with-clearance', { cookie: `${CLEARANCE_COOKIE}=anything`, referer: 'http://127.0.0.1/from' });
    assert.equal(e.hasCookies, true);
    assert.equal(e.referer, 'http://127.0.0.1/from');
    assert.equal(e.challenged, false);
  });

  it('a request without cookies or Referer says so', async () => {
    const e = await eventOf('/bare', {});
    assert.equal(e.hasCookies, false);
    assert.equal(e.referer, '');
    assert.equal(e.crossSite, false);
  });

  it('Sec-Fetch-Site cross-site and same-site mark the request as caused by another site; same-origin and none do not', async () => {
    for (const [value, crossSite] of [['cross-site', true], ['same-site', true], ['same-origin', false], ['none', false]] as const) {
      const e = await eventOf(`/fetch-${value}`, { 'sec-fetch-site': value });
      assert.equal(e.crossSite, crossSite, value);
    }
  });

  it('security: a cross-site request that carries the clearance cookie (SameSite=Lax: never sent with another site\'s <img>) is the client\'s own, so a scanner that solved the challenge cannot dodge the ban by claiming the header', async () => {
    const e = await eventOf('/fetch-cleared', { 'sec-fetch-site': 'cross-site', cookie: `${CLEARANCE_COOKIE}=anything` });
    assert.equal(e.crossSite, false);
  });
});
