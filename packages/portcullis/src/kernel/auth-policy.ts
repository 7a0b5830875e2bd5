/**
 * The `authenticate` policy, compiled once: shared by the proxy's `authenticate` handler and
 * the identity provider's forward-auth endpoint so both admit exactly the same people.
 */

/** A signed-in person, as policies and identity headers see them. */
export interface SignedInUser {
  id: string;
  username: string;
  email: string | null;
  name: string;
  groups: string[];
}

/** One `require` line (config's AuthRequirement). */
export interface PolicyRule {
  kind: 'user' | 'group' | 'any_group' | 'email';
  values: string[];
}

/** All rules must hold; no rules admits every signed-in user. */
export function compilePolicy(rules: readonly PolicyRule[]): (user: SignedInUser) => boolean {
  const checks = rules.map(compileRule);
  return (user) => checks.every((check) => check(user));
}

function compileRule(rule: PolicyRule): (user: SignedInUser) => boolean {
  switch (rule.kind) {
    case 'user': {
      // Usernames are unique case-insensitively (store), so compare that way too.
      const names = new Set(rule.values.map((v) => v.toLowerCase()));
      return (user) => names.has(user.username.toLowerCase());
    }
    case 'group':
      return (user) => rule.values.every((g) => user.groups.includes(g));
    case 'any_group':
      return (user) => rule.values.some((g) => user.groups.includes(g));
    case 'email': {
      const patterns = rule.values.map(emailPattern);
      return (user) => user.email !== null && patterns.some((p) => p.test(user.email!));
    }
  }
}

/** `*@example.com` -> /^.*@example\.com$/i; every other character literal. */
function emailPattern(glob: string): RegExp {
  const source = glob
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^\\s]*');
  return new RegExp(`^${source}$`, 'i');
}
