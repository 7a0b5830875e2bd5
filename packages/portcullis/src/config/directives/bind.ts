/**
 * `bind <hosts...>`: the interfaces a site listens on (`127.0.0.1`, `::1`, `localhost`,
 * `unix//run/site.sock`); all interfaces when absent. Also used by the `default_bind` option.
 */
import type { Directive, Token } from '../ast.ts';
import { parseIp } from '../../kernel/ip-ranges.ts';
import { argCount, noBlock, type Dispenser } from '../dispenser.ts';

/** Checks one bind address; reports and returns false when it is not one. */
export function checkBindAddress(disp: Dispenser, token: Token): boolean {
  let text = token.text;
  if (text.startsWith('unix/')) {
    if (text.length > 'unix/'.length) return true;
    disp.error(token, 'a unix socket address needs a path: unix//run/site.sock');
    return false;
  }
  const network = /^(tcp4|tcp6|tcp)\//.exec(text);
  if (network) text = text.slice(network[0].length);
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  if (text.includes(':') || /^[\d.]+$/.test(text)) {
    if (parseIp(text) !== null) return true;
  } else if (/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(text)) {
    return true;
  }
  disp.error(token, `${JSON.stringify(token.text)} is not an interface address (an IP address, a host name, or unix/<path>)`);
  return false;
}

export function adaptBind(d: Directive, disp: Dispenser): string[] {
  noBlock(disp, d);
  if (!argCount(disp, d, d.args, 1, Infinity, 'bind <hosts...>')) return [];
  return d.args.filter((t) => checkBindAddress(disp, t)).map((t) => t.text);
}
