/**
 * Checks of the certificate settings (`key_type`, `cert_lifetime`, `renew_interval`,
 * `fallback_sni`, `tls { ca; ca_root }`) against the planned sites, made when a config loads,
 * so a setting that could not be applied is a config error naming the site instead of a
 * certificate that silently differs from what was asked.
 */
import type { GlobalTlsOptions, KeyType, TlsConfig } from '../config/types.ts';
import { ErrorCodes, PortcullisError } from '../kernel/errors.ts';
import { LETS_ENCRYPT_DIRECTORY } from './acme/ca-storage.ts';
import { canonicalHost, wildcardOf } from './host-names.ts';
import { INTERNAL_MAX_LIFETIME } from './internal-ca.ts';
import { DEFAULT_KEY_TYPE } from './key-type.ts';
import { siteError, type OnDemandRule, type SitePlan, type TlsSite } from './site-plan.ts';

/** What the checks need to know besides the plans. */
export interface PlanSettings {
  global: GlobalTlsOptions;
  /** Lifetime of internal-CA certificates (`cert_lifetime`, default 12 h). */
  internalLifetimeMs: number;
  /** How often the renewal check runs. */
  renewIntervalMs: number;
}

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** `30d`, `12h`, `90m`, `45s`: the largest unit that divides it, for messages. */
export function durationText(ms: number): string {
  for (const [unit, size] of [['d', DAY], ['h', HOUR], ['m', MINUTE], ['s', 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** The key type a site's certificates get: its own `key_type`, else the global one, else p256. */
export function keyTypeFor(tls: TlsConfig | null, global: GlobalTlsOptions): KeyType {
  return tls?.keyType ?? global.keyType ?? DEFAULT_KEY_TYPE;
}

/** The ACME directory a site orders from: its `tls { ca }`, else `acme_ca`, else Let's Encrypt. */
export function directoryFor(tls: TlsConfig | null, global: GlobalTlsOptions): string {
  return tls?.ca ?? global.acmeCa ?? LETS_ENCRYPT_DIRECTORY;
}

/** Whether `directoryUrl` is Let's Encrypt's (production or staging). */
function letsEncrypt(directoryUrl: string): boolean {
  try {
    return /^acme(-staging)?-v02\.api\.letsencrypt\.org$/.test(new URL(directoryUrl).hostname);
  } catch {
    return false;
  }
}

/** One site that may get certificates from the internal CA, from ACME, or both. */
interface Use {
  site: TlsSite;
  internal: boolean;
  acme: boolean;
  /** Renewed by the background check (on-demand certificates are renewed at a handshake instead). */
  background: boolean;
}

function usesOf(plans: SitePlan[], rules: OnDemandRule[]): Use[] {
  const out = new Map<TlsSite, Use>();
  const add = (site: TlsSite, internal: boolean, acme: boolean, background: boolean) => {
    const use = out.get(site) ?? { site, internal: false, acme: false, background };
    use.internal ||= internal;
    use.acme ||= acme;
    out.set(site, use);
  };
  for (const plan of plans) if (plan.issuer !== 'files') add(plan.site, plan.issuer === 'internal', plan.issuer === 'acme', true);
  // An on-demand rule without a fixed issuer gets the internal CA for local names and ACME for others.
  for (const rule of rules) add(rule.site, rule.issuer !== 'acme', rule.issuer !== 'internal', false);
  return [...out.values()];
}

/**
 * Ed25519 from ACME: the CA/Browser Forum Baseline Requirements (section 6.1.5) allow public
 * CAs RSA and ECDSA keys only, so Let's Encrypt and its peers refuse the order, and acme-client
 * cannot write an Ed25519 request; a private CA that would sign one is the rare case.
 */
function checkKeyTypes(uses: Use[], global: GlobalTlsOptions, errors: PortcullisError[]): void {
  for (const { site, acme } of uses) {
    if (!acme || keyTypeFor(site.tls, global) !== 'ed25519') continue;
    const which = site.tls?.keyType === undefined ? 'the global key_type ed25519' : 'key_type ed25519';
    errors.push(siteError(site, `${which} cannot be used for certificates from an ACME CA (public CAs issue RSA and ECDSA keys only); use p256, p384, rsa2048 or rsa4096, or tls internal`, site.tls?.source ?? site.source));
  }
}

function checkLifetimes(uses: Use[], settings: PlanSettings, errors: PortcullisError[]): void {
  const { global, internalLifetimeMs, renewIntervalMs } = settings;
  const lifetime = global.certLifetimeMs;
  let renewReported = false;
  for (const { site, internal, acme, background } of uses) {
    if (internal && internalLifetimeMs > INTERNAL_MAX_LIFETIME) {
      errors.push(siteError(site, `cert_lifetime ${durationText(internalLifetimeMs)} is longer than the internal CA signs for (at most ${durationText(INTERNAL_MAX_LIFETIME)}, its intermediate's lifetime); lower cert_lifetime`));
    }
    if (acme && lifetime !== undefined && letsEncrypt(directoryFor(site.tls, global))) {
      // Boulder refuses a newOrder with notAfter ("NotBefore and NotAfter are not supported").
      errors.push(siteError(site, `cert_lifetime cannot be used with Let's Encrypt, which refuses orders that ask for a lifetime; remove cert_lifetime or use a CA that accepts one`));
    }
    // Renewal starts when a third of the life is left; two checks must fit in that time, so a
    // failed first attempt still has another chance before the certificate expires.
    const shortest = !background ? undefined : internal ? internalLifetimeMs : acme ? lifetime : undefined;
    if (!renewReported && shortest !== undefined && renewIntervalMs * 6 > shortest) {
      renewReported = true;
      errors.push(
        siteError(site, `renew_interval ${durationText(renewIntervalMs)} is too long for certificates that live ${durationText(shortest)}: renewal is checked at least twice in the last third of their life, so renew_interval must be at most ${durationText(Math.floor(shortest / 6))}`),
      );
    }
  }
}

/**
 * Each host's certificate settings: a name has one certificate (certificates are chosen by
 * name), so two sites serving it must ask for the same key type and CA, or it is an error
 * rather than the first site silently winning.
 */
function checkAgreement(plans: SitePlan[], global: GlobalTlsOptions, errors: PortcullisError[]): void {
  const owner = new Map<string, { site: TlsSite; id: string }>();
  for (const plan of plans) {
    if (plan.issuer === 'files') continue;
    const tls = plan.site.tls;
    const id = plan.issuer === 'acme' ? `${keyTypeFor(tls, global)} ${directoryFor(tls, global)} ${tls?.caRoot ?? ''}` : keyTypeFor(tls, global);
    for (const host of plan.hosts) {
      const first = owner.get(host);
      if (first === undefined) owner.set(host, { site: plan.site, id });
      else if (first.site !== plan.site && first.id !== id) {
        errors.push(siteError(plan.site, `${host} is also served by site ${first.site.name} with a different key_type, ca or ca_root; a name has one certificate, so give both sites the same settings`, tls?.source ?? plan.site.source));
      }
    }
  }
}

/** `fallback_sni` must name a host some site gets a certificate for, or it would never apply. */
function checkFallbackSni(plans: SitePlan[], global: GlobalTlsOptions, errors: PortcullisError[]): void {
  if (global.fallbackSni === undefined) return;
  const { name, source } = global.fallbackSni;
  const host = canonicalHost(name);
  const wildcard = host === null ? null : wildcardOf(host);
  if (host !== null && plans.some((p) => p.hosts.includes(host) || (wildcard !== null && p.hosts.includes(wildcard)))) return;
  errors.push(
    new PortcullisError(ErrorCodes.ERR_CONFIG_INVALID, `${name} is not a name any site gets a certificate for (on_demand names do not count); name one of the sites' hosts`, { source, directive: 'fallback_sni' }),
  );
}

/** Every check above; errors go to `errors`. */
export function checkPlans(plans: SitePlan[], rules: OnDemandRule[], settings: PlanSettings, errors: PortcullisError[]): void {
  const uses = usesOf(plans, rules);
  checkKeyTypes(uses, settings.global, errors);
  checkLifetimes(uses, settings, errors);
  checkAgreement(plans, settings.global, errors);
  checkFallbackSni(plans, settings.global, errors);
}
