/** The guard module's facade: client addresses through trusted proxies, rate limits, decisions (bans), blocklists and the request gate. */
export { createClientIpResolver, DEFAULT_CLIENT_IP_HEADERS, type ClientIpOptions, type ClientIpResolver } from './client-ip.ts';
export { createClientIpSetup, type ClientIpSetup } from './client-ip-setup.ts';
export { loadTrustedProxies, readRangeList, SHIPPED_CLOUDFLARE_LIST } from './trusted-proxies.ts';
export { createRateLimiter, DEFAULT_MAX_KEYS_PER_ZONE, type RateLimit, type RateLimiter, type RateLimiterOptions } from './rate-limiter.ts';
export { createDecisionIndex, type ActiveDecision, type DecisionIndex } from './decision-index.ts';
export { createDecisionSync, type DecisionSync, type DecisionSyncOptions } from './decision-sync.ts';
export { createDecisionAdmin, type DecisionAdmin } from './decision-admin.ts';
export { createBlocklistFiles, type BlocklistFiles, type BlocklistHit, type BlocklistOptions, type Blocklists } from './blocklists.ts';
export { countingDecisionIndex, createDecisionCounts, registerGuardMetrics, type DecisionCounts, type GuardMetricsSource } from './guard-metrics.ts';
export { createGate, createGateStats, type Gate, type GateOptions, type GateStats, type RequestRules, type RuleMatch } from './gate.ts';
export { formatIpPrefix, parseIpPrefix, type IpPrefix } from './ip-prefix.ts';
export { compileRequestRules, type CompileRulesOptions, type RuleAction, type RuleHit } from './rules/compile.ts';
export { createScenarioEngine, type ScenarioEngine, type ScenarioSettings } from './scenarios/index.ts';
export { CLEARANCE_COOKIE, createChallenges, type ChallengeOptions, type Challenges } from './challenge.ts';
export { loadChallengeSecret } from './challenge-secret.ts';
export { onNewDecisions } from './new-decisions.ts';
// The CrowdSec link (LAPI client, bouncer, watcher) is loaded by main.ts only for a config with
// a `crowdsec` block: guard/crowdsec/crowdsec-link.ts.
