/**
 * Handler configs to closures: one factory per handler name, looked up in a table so adding a
 * directive is one line here and one file in handlers/.
 */
import type { HandlerConfig } from '../config/types.ts';
import type { Handler } from './context.ts';
import type { HandlerDeps } from './handler-deps.ts';
import { createEncode } from './handlers/encode.ts';
import { createError } from './handlers/error.ts';
import { createFileServer } from './handlers/file-server.ts';
import { createForwardAuth } from './handlers/forward-auth.ts';
import { createHeaders } from './handlers/headers.ts';
import { createAuthenticate } from './handlers/authenticate.ts';
import { createIdentityProvider } from './handlers/identity-provider.ts';
import { createJwt } from './handlers/jwt.ts';
import { createRateLimit } from './handlers/rate-limit.ts';
import { createMetricsEndpoint } from './handlers/metrics.ts';
import { createRequestBody } from './handlers/request-body.ts';
import { createReverseProxy } from './handlers/reverse-proxy.ts';
import { createRewrite } from './handlers/rewrite.ts';
import { createStaticResponse } from './handlers/static-response.ts';
import { createVars } from './handlers/vars.ts';

type Factories = {
  [K in HandlerConfig['handler']]: (config: Extract<HandlerConfig, { handler: K }>, deps: HandlerDeps) => Handler;
};

const factories: Factories = {
  vars: createVars,
  headers: createHeaders,
  static_response: createStaticResponse,
  rewrite: createRewrite,
  subroute: (config, deps) => deps.compileRoutes(config.routes),
  encode: createEncode,
  request_body: createRequestBody,
  error: createError,
  file_server: createFileServer,
  reverse_proxy: (config, deps) => createReverseProxy(config, deps, { trustedProxies: deps.trustedProxies }),
  forward_auth: createForwardAuth,
  metrics: createMetricsEndpoint,
  identity_provider: createIdentityProvider,
  authenticate: createAuthenticate,
  jwt: createJwt,
  rate_limit: createRateLimit,
};

export function compileHandler(config: HandlerConfig, deps: HandlerDeps): Handler {
  const factory = factories[config.handler] as (config: HandlerConfig, deps: HandlerDeps) => Handler;
  return factory(config, deps);
}
