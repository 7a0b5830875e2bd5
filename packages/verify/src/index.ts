/**
 * @portcullis/verify: verify Portcullis tokens locally from its JWKS.
 * The verifier itself lands with the `authenticate`/`jwt` work; this placeholder keeps the
 * workspace layout stable so apps can already depend on the package name.
 */
export const VERSION = '0.1.0';
