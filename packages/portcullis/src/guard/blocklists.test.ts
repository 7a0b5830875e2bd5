import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBlocklistFiles, type Blocklists } from './blocklists.ts';
import { recordingLogger } from '../../test/support/recording-logger.ts';

const base = mkdtempSync(join(tmpdir(), 'portcullis-blocklists-'));
after(() => rmSync(base, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => {
  const dir = join(base, `d${++dirs}`);
  mkdirSync(dir);
  return dir;
};


/** Waits (bounded) until `ok` holds; the watcher's debounce is 20ms in these tests. */
async function eventually(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 30));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

const blocked = (lists: Blocklists, ip: string) => lists.match(ip)?.path ?? null;

describe('guard blocklists', () => {
  test('one entry a line, # comments, blank lines and CRLF; bad lines logged with file:line and skipped', async () => {
    const dir = freshDir();
    const file = join(dir, 'list.txt');
    writeFileSync(file, '# fetched nightly\r\n192.0.2.1\r\n\r\n  198.51.100.0/24   # a whole range\n2001:db8::/32\nnot-an-ip\n10.0.0.1 10.0.0.2\n::ffff:203.0.113.9\n');
    const { logger, lines } = recordingLogger();
    const files = createBlocklistFiles({ logger, watch: false });
    try {
      const lists = await files.prepare([file]);
      assert.equal(lists.size, 4);
      for (const ip of ['192.0.2.1', '198.51.100.200', '2001:db8:5::1', '203.0.113.9', '::ffff:192.0.2.1']) assert.equal(blocked(lists, ip), file, ip);
      for (const ip of ['192.0.2.2', '10.0.0.1', '10.0.0.2', '2001:db9::1']) assert.equal(blocked(lists, ip), null, ip);
      assert.equal(lists.match('192.0.2.1')?.reason, `blocklist:${file}`);
      const warnings = lines.filter((l) => l.level === 40).map((l) => String(l.msg));
      assert.deepEqual(warnings, [
        `guard blocklist: ${file}:6: "not-an-ip" is not an IP address or CIDR range; skipped`,
        `guard blocklist: ${file}:7: "10.0.0.1 10.0.0.2" is not an IP address or CIDR range; skipped`,
      ]);
    } finally {
      files.close();
    }
  });

  test('security: a /0 or a range with address bits past its length is skipped with a warning, never made to block everyone', async () => {
    const dir = freshDir();
    const file = join(dir, 'third-party.txt');
    writeFileSync(file, '0.0.0.0/0\n::/0\n::ffff:0.0.0.0/96\n1.2.3.4/1\n2001:db8::1/16\n224.0.0.0/3\n192.0.2.0/24\n2001:db8::/32\n');
    const { logger, lines } = recordingLogger();
    const files = createBlocklistFiles({ logger, watch: false });
    try {
      const lists = await files.prepare([file]);
      assert.equal(lists.size, 3, 'firehol-style 224.0.0.0/3 and the clean ranges stay');
      for (const ip of ['8.8.8.8', '1.1.1.1', '2606:4700::1111', '::ffff:8.8.8.8']) assert.equal(blocked(lists, ip), null, ip);
      for (const ip of ['225.1.2.3', '192.0.2.7', '2001:db8:ff::1']) assert.equal(blocked(lists, ip), file, ip);
      const warnings = lines.filter((l) => l.level === 40).map((l) => String(l.msg));
      assert.deepEqual(warnings, [
        `guard blocklist: ${file}:1: "0.0.0.0/0" covers every address; skipped`,
        `guard blocklist: ${file}:2: "::/0" covers every address; skipped`,
        `guard blocklist: ${file}:3: "::ffff:0.0.0.0/96" covers every address; skipped`,
        `guard blocklist: ${file}:4: "1.2.3.4/1" has address bits set past its /1 (a typo? it would cover 0.0.0.0/1); skipped`,
        `guard blocklist: ${file}:5: "2001:db8::1/16" has address bits set past its /16 (a typo? it would cover 2001::/16); skipped`,
      ]);
    } finally {
      files.close();
    }
  });

  test('many bad lines: the first ten are named, the rest counted', async () => {
    const dir = freshDir();
    const file = join(dir, 'junk.txt');
    writeFileSync(file, `${Array.from({ length: 25 }, (_, i) => `junk${i}`).join('\n')}\n192.0.2.1\n`);
    const { logger, lines } = recordingLogger();
    const files = createBlocklistFiles({ logger, watch: false });
    try {
      const lists = await files.prepare([file]);
      assert.equal(lists.size, 1);
      const warnings = lines.filter((l) => l.level === 40);
      assert.equal(warnings.length, 11);
      assert.match(String(warnings.at(-1)?.msg), /25 lines are not IP addresses/);
    } finally {
      files.close();
    }
  });

  test('a missing, oversized or overfull file fails the load with ERR_CONFIG_INVALID naming it', async () => {
    const dir = freshDir();
    const { logger } = recordingLogger();
    const files = createBlocklistFiles({ logger, watch: false, maxBytes: 100, maxEntries: 3 });
    try {
      await assert.rejects(files.prepare([join(dir, 'absent.txt')]), { code: 'ERR_CONFIG_INVALID', message: /cannot read .*absent\.txt: ENOENT/ });
      writeFileSync(join(dir, 'big.txt'), '192.0.2.1\n'.repeat(20));
      await assert.rejects(files.prepare([join(dir, 'big.txt')]), { code: 'ERR_CONFIG_INVALID', message: /big\.txt is larger than 100 bytes/ });
      writeFileSync(join(dir, 'full.txt'), '192.0.2.1\n192.0.2.2\n192.0.2.3\n192.0.2.4\n');
      await assert.rejects(files.prepare([join(dir, 'full.txt')]), { code: 'ERR_CONFIG_INVALID', message: /full\.txt has more than 3 entries/ });
      await assert.rejects(files.prepare([dir]), { code: 'ERR_CONFIG_INVALID', message: /is not a file/ });
      // An empty list is a list: nothing is blocked.
      writeFileSync(join(dir, 'empty.txt'), '# nothing yet\n');
      const lists = await files.prepare([join(dir, 'empty.txt')]);
      assert.equal(lists.size, 0);
      assert.equal(lists.match('192.0.2.1'), null);
    } finally {
      files.close();
    }
  });

  test('several lists: the first in config order answers', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'a.txt'), '192.0.2.0/24\n');
    writeFileSync(join(dir, 'b.txt'), '192.0.2.1\n198.51.100.1\n');
    const { logger } = recordingLogger();
    const files = createBlocklistFiles({ logger, watch: false });
    try {
      const lists = await files.prepare([join(dir, 'a.txt'), join(dir, 'b.txt')]);
      assert.equal(blocked(lists, '192.0.2.1'), join(dir, 'a.txt'));
      assert.equal(blocked(lists, '198.51.100.1'), join(dir, 'b.txt'));
      assert.equal(lists.size, 3);
    } finally {
      files.close();
    }
  });

  test('a watched file is re-read after it changes, also when replaced by rename', async () => {
    const dir = freshDir();
    const file = join(dir, 'list.txt');
    writeFileSync(file, '192.0.2.1\n');
    const { logger } = recordingLogger();
    const files = createBlocklistFiles({ logger, debounceMs: 20 });
    try {
      const lists = await files.prepare([file]);
      assert.equal(blocked(lists, '192.0.2.1'), file);
      writeFileSync(file, '192.0.2.2\n');
      await eventually(() => blocked(lists, '192.0.2.2') === file && blocked(lists, '192.0.2.1') === null, 'the edited list');
      // What editors and cron jobs do: write a new file, rename it over the old one.
      writeFileSync(join(dir, 'list.txt.tmp'), '192.0.2.3\n');
      renameSync(join(dir, 'list.txt.tmp'), file);
      await eventually(() => blocked(lists, '192.0.2.3') === file && blocked(lists, '192.0.2.2') === null, 'the replaced list');
    } finally {
      files.close();
    }
  });

  test('a re-read that fails keeps the previous contents', async () => {
    const dir = freshDir();
    const file = join(dir, 'list.txt');
    writeFileSync(file, '192.0.2.1\n');
    const { logger, lines } = recordingLogger();
    const files = createBlocklistFiles({ logger, debounceMs: 20, maxBytes: 64 });
    try {
      const lists = await files.prepare([file]);
      writeFileSync(file, '192.0.2.1\n'.repeat(10));
      await eventually(() => lines.some((l) => /previous contents stay/.test(String(l.msg))), 'the failed re-read');
      assert.equal(blocked(lists, '192.0.2.1'), file);
    } finally {
      files.close();
    }
  });

  test('without watching, prepare() re-reads a file whose modification time or size changed, and only that one', async () => {
    const dir = freshDir();
    const file = join(dir, 'list.txt');
    writeFileSync(file, '192.0.2.1\n');
    const { logger } = recordingLogger();
    const files = createBlocklistFiles({ logger, watch: false });
    try {
      const first = await files.prepare([file]);
      const unchanged = await files.prepare([file]);
      assert.equal(blocked(unchanged, '192.0.2.1'), file);
      writeFileSync(file, '192.0.2.1\n192.0.2.2\n');
      const second = await files.prepare([file]);
      assert.equal(blocked(second, '192.0.2.2'), file);
      // The file is shared: the earlier config's view sees the new contents too.
      assert.equal(blocked(first, '192.0.2.2'), file);
      // A load that fails (a second file is missing) changes nothing.
      writeFileSync(file, '198.51.100.1\n');
      await assert.rejects(files.prepare([file, join(dir, 'absent.txt')]), { code: 'ERR_CONFIG_INVALID' });
      assert.equal(blocked(second, '192.0.2.2'), file);
    } finally {
      files.close();
    }
  });
});
