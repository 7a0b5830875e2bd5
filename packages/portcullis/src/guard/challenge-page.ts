/**
 * The challenge page and its script, as static strings: no third party, no images, nothing
 * inline (the page's CSP allows scripts from this origin only). The script finds a nonce such
 * that SHA-256(challenge + nonce) starts with `difficulty` zero bits, then submits the form.
 * WebCrypto exists only in secure contexts (HTTPS, localhost); on a plain-HTTP site the script
 * falls back to the small SHA-256 below (FIPS 180-4), which src/guard/challenge.test.ts checks
 * against node:crypto.
 */

/** Where the front door serves the script, and where the form posts. */
export const CHALLENGE_SCRIPT_PATH = '/.portcullis/challenge.js';
export const CHALLENGE_POST_PATH = '/.portcullis/challenge';

/** SHA-256 of an ASCII string to a Uint8Array; defines `portcullisSha256`. Kept separate for its test. */
export const SHA256_JS = `function portcullisSha256(text) {
  var K = [0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
    0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
    0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
    0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
    0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
    0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
    0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
    0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2];
  var n = text.length, total = ((n + 9 + 63) >> 6) << 6, m = new Uint8Array(total), i;
  for (i = 0; i < n; i++) m[i] = text.charCodeAt(i) & 0xff;
  m[n] = 0x80;
  var bits = n * 8;
  m[total - 4] = (bits >>> 24) & 0xff; m[total - 3] = (bits >>> 16) & 0xff;
  m[total - 2] = (bits >>> 8) & 0xff; m[total - 1] = bits & 0xff;
  var h = [0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19];
  var w = new Array(64);
  for (var off = 0; off < total; off += 64) {
    for (i = 0; i < 16; i++) w[i] = (m[off + 4 * i] << 24) | (m[off + 4 * i + 1] << 16) | (m[off + 4 * i + 2] << 8) | m[off + 4 * i + 3];
    for (i = 16; i < 64; i++) {
      var a0 = w[i - 15], a1 = w[i - 2];
      var s0 = ((a0 >>> 7) | (a0 << 25)) ^ ((a0 >>> 18) | (a0 << 14)) ^ (a0 >>> 3);
      var s1 = ((a1 >>> 17) | (a1 << 15)) ^ ((a1 >>> 19) | (a1 << 13)) ^ (a1 >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (i = 0; i < 64; i++) {
      var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      var t1 = (k + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      var t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + k) | 0;
  }
  var out = new Uint8Array(32);
  for (i = 0; i < 8; i++) { out[4 * i] = h[i] >>> 24; out[4 * i + 1] = (h[i] >>> 16) & 0xff; out[4 * i + 2] = (h[i] >>> 8) & 0xff; out[4 * i + 3] = h[i] & 0xff; }
  return out;
}
`;

/** The whole script served at CHALLENGE_SCRIPT_PATH. */
export const CHALLENGE_JS = `'use strict';
${SHA256_JS}
(function () {
  var form = document.getElementById('portcullis-challenge');
  if (!form) return;
  var challenge = form.elements.challenge.value;
  var difficulty = Number(form.elements.difficulty.value);
  var status = document.getElementById('portcullis-status');
  var subtle = window.crypto && window.crypto.subtle;
  function zeroBits(bytes) {
    var bits = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) { bits += 8; continue; }
      var b = bytes[i];
      while ((b & 0x80) === 0) { bits++; b <<= 1; }
      return bits;
    }
    return bits;
  }
  function done(nonce) {
    form.elements.nonce.value = String(nonce);
    if (status) status.textContent = 'Done, continuing…';
    form.submit();
  }
  function digest(text) {
    if (!subtle) return Promise.resolve(portcullisSha256(text));
    return subtle.digest('SHA-256', new TextEncoder().encode(text)).then(function (b) { return new Uint8Array(b); });
  }
  var nonce = 0;
  function step() {
    // In batches: the page stays responsive, and WebCrypto's promises run in parallel.
    var batch = [];
    for (var i = 0; i < 256; i++) batch.push(digest(challenge + (nonce + i)));
    Promise.all(batch).then(function (hashes) {
      for (var j = 0; j < hashes.length; j++) if (zeroBits(hashes[j]) >= difficulty) return done(nonce + j);
      nonce += batch.length;
      setTimeout(step, 0);
    });
  }
  step();
})();
`;

/** HTML text or attribute value, escaped. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page a challenged browser gets: a form the script completes and submits. */
export function challengePageHtml(fields: { challenge: string; difficulty: number; returnTo: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Checking your browser</title>
<script src="${CHALLENGE_SCRIPT_PATH}" defer></script>
</head>
<body>
<h1>Checking your browser</h1>
<p id="portcullis-status">This takes a moment and happens once in a while.</p>
<noscript><p>This site needs JavaScript to check your browser. Please turn JavaScript on and reload the page.</p></noscript>
<form id="portcullis-challenge" method="post" action="${CHALLENGE_POST_PATH}">
<input type="hidden" name="challenge" value="${escapeHtml(fields.challenge)}">
<input type="hidden" name="difficulty" value="${fields.difficulty}">
<input type="hidden" name="return" value="${escapeHtml(fields.returnTo)}">
<input type="hidden" name="nonce" value="">
</form>
</body>
</html>
`;
}
