/** The behaviour scenarios' facade (re-exported by the guard's facade). */
export { createScenarioEngine, type ScenarioEngine, type ScenarioEngineOptions, type ScenarioSettings } from './engine.ts';
export { createLeakyBuckets, type LeakyBucketOptions, type LeakyBuckets, type Overflow } from './leaky-bucket.ts';
export { BUILTIN_SCENARIOS, SCENARIO_NAMES, isScannerUserAgent, isSensitivePath, isStaticPath, type HttpScenario, type LoginScenario, type Scenario, type SlowScraperScenario } from './scenarios.ts';
export { createSlowScraperDetector, type Firing, type SlowScraperDetector, type SlowScraperOptions } from './slow-scraper.ts';
