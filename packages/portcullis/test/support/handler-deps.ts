/** HandlerDeps for tests that drive one handler directly. */
import { systemClock } from '../../src/kernel/clock.ts';
import { EventBus } from '../../src/kernel/events.ts';
import { silentLogger } from '../../src/kernel/logger.ts';
import type { HandlerDeps } from '../../src/proxy/handler-deps.ts';

export function testDeps(overrides: Partial<HandlerDeps> = {}): HandlerDeps {
  return {
    logger: silentLogger(),
    events: new EventBus(),
    clock: systemClock,
    metrics: null,
    identity: null,
    authenticator: null,
    rateLimiter: null,
    configFile: null,
    trustedProxies: [],
    compileRoutes: () => {
      throw new Error('compileRoutes is not used by this test');
    },
    onDispose: () => {},
    ...overrides,
  };
}
