/**
 * ReDoS regression: a catastrophic path_regexp from config meets a hostile path. V8's
 * backtracking limit hands such matches to the linear-time engine, so the request is answered
 * instead of freezing every connection on the event loop. That engine refuses the `i` flag, so
 * `(?i)` patterns are compiled case-folded instead (kernel/case-fold.ts); without that, `(?i)`
 * with 28 a's took 9.4 s. The server runs in this process, so a frozen event loop freezes the
 * client's timers too: a broken exponential case hangs the run (CI's time limit fails it), and
 * the polynomial glob case, which ends after ~30 s when broken, checks the elapsed time. Those
 * bounds are hang guards, not speed assertions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startPortcullis } from './support/instance.ts';

test('a catastrophic path_regexp does not hang the server', async () => {
  const p = await startPortcullis(`
{
	admin off
}
http://127.0.0.1:0 {
	@evil path_regexp ^/(a+)+$
	respond @evil "matched"
	respond "not matched"
}
`);
  try {
    // 40 a's and a b: naive backtracking needs ~2^40 steps.
    const res = await request(`${p.url}/${'a'.repeat(40)}b`, { headersTimeout: 10_000 });
    assert.equal(await res.body.text(), 'not matched');
    const ok = await request(`${p.url}/aaaa`);
    assert.equal(await ok.body.text(), 'matched');
  } finally {
    await p.stop();
  }
});

test('path_regexp (?i) with nested quantifiers stays linear', async () => {
  const p = await startPortcullis(`
{
	admin off
}
http://127.0.0.1:0 {
	@evil path_regexp (?i)^/(a+)+$
	respond @evil "matched"
	respond "not matched"
}
`);
  try {
    // 40 A's and a b: naive backtracking needs ~2^40 steps; mixed case so folding is exercised.
    const res = await request(`${p.url}/${'aA'.repeat(20)}b`, { headersTimeout: 10_000 });
    assert.equal(await res.body.text(), 'not matched');
    const ok = await request(`${p.url}/AaAa`);
    assert.equal(await ok.body.text(), 'matched');
  } finally {
    await p.stop();
  }
});

test('header_regexp (?i) with nested quantifiers stays linear', async () => {
  const p = await startPortcullis(`
{
	admin off
}
http://127.0.0.1:0 {
	@evil header_regexp X-Probe (?i)^(a+)+\\z
	respond @evil "matched"
	respond "not matched"
}
`);
  try {
    const res = await request(`${p.url}/`, { headers: { 'x-probe': `${'Aa'.repeat(20)}!` }, headersTimeout: 10_000 });
    assert.equal(await res.body.text(), 'not matched');
    const ok = await request(`${p.url}/`, { headers: { 'x-probe': 'aAAa' } });
    assert.equal(await ok.body.text(), 'matched');
  } finally {
    await p.stop();
  }
});

test('security: a path glob with several stars and hide globs stay linear on a long hostile segment', async () => {
  const p = await startPortcullis(`
{
	admin off
}
http://127.0.0.1:0 {
	@release path /dl/*-*-*-*.tar.gz
	respond @release "release"
	root * $DIR
	file_server {
		hide *-*-*-*.bak
	}
}
`, { files: { 'a-b-c-d.bak': 'hidden', 'x.txt': 'served' } });
  try {
    // Four stars against 600 dashes: ~28 s of backtracking per match with the `u` flag, which
    // keeps V8 from handing the match to its linear engine. The server runs in this process, so
    // a frozen loop also freezes the client's timers: the hang guard is the elapsed time.
    const hostile = `${'-'.repeat(600)}`;
    const started = performance.now();
    const res = await request(`${p.url}/dl/${hostile}`, { headersTimeout: 10_000 });
    assert.equal(res.statusCode, 404);
    await res.body.dump();
    assert.ok(performance.now() - started < 10_000, 'answered within 10 s (a hang guard, not a speed assertion)');
    const ok = await request(`${p.url}/dl/app-1-2-linux.tar.gz`);
    assert.equal(await ok.body.text(), 'release');
    const hiddenStarted = performance.now();
    const hidden = await request(`${p.url}/${hostile}`, { headersTimeout: 10_000 });
    assert.equal(hidden.statusCode, 404);
    await hidden.body.dump();
    assert.ok(performance.now() - hiddenStarted < 10_000, 'answered within 10 s (a hang guard)');
    const bak = await request(`${p.url}/a-b-c-d.bak`);
    assert.equal(bak.statusCode, 404, 'the hide glob still hides');
    await bak.body.dump();
    const served = await request(`${p.url}/x.txt`);
    assert.equal(await served.body.text(), 'served');
  } finally {
    await p.stop();
  }
});
