/** CrowdSec interop for the guard: a Local API client, a bouncer that enforces CrowdSec's decisions, a watcher that sends ours. */
export { createLapiClient, formatGoDuration, isLapiError, parseGoDuration, type LapiAlert, type LapiClient, type LapiClientOptions, type LapiDecision, type LapiError, type StreamSummary } from './lapi-client.ts';
export { createCrowdSecBouncer, type BouncerPollResult, type CrowdSecBouncer, type CrowdSecBouncerOptions, type CrowdSecBouncerStats } from './bouncer.ts';
export { createCrowdSecWatcher, forwardNewDecisions, SCENARIO_PREFIX, type CrowdSecWatcher, type CrowdSecWatcherOptions, type CrowdSecWatcherStats } from './watcher.ts';
