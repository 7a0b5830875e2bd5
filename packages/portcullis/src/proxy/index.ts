/** The proxy module's facade: compile a config into a runtime, and serve runtimes. */
export { buildRuntime, configUsesAuthenticate, configUsesIdentity, configUsesMetrics, type Runtime, type RuntimeDeps } from './runtime.ts';
export { createFrontDoor, type FrontDoor } from './front-door.ts';
export { httpsSites, type HttpsSite } from './listen-plan.ts';
export type { Authenticator, CertificateProvider, ChallengeResponder, ClientIpResolver, GateRequest, GateVerdict, IdentityEndpoint, RateLimiter, RequestGate } from './ports.ts';
export { compileStringTest } from './matchers/path.ts';
export { compileGoRegexp } from './matchers/regexp.ts';
