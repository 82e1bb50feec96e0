import { JwksStrategy } from './jwks.strategy';
import { JwtStrategy } from './jwt.strategy';
import { SessionTokenStrategy } from './session-token.strategy';

/**
 * The token sources, in the order passport tries them for each request. Each declines the
 * tokens that are not its kind (by algorithm; a session token screens as SESSION_TOKEN), so the
 * order only decides who looks first: the JWT sources, whose tokens are the most common, before
 * Better Auth session tokens, which are off unless BETTER_AUTH_SESSION_TOKENS is set.
 */
export const TOKEN_STRATEGIES = [JwtStrategy, JwksStrategy, SessionTokenStrategy];

export const TOKEN_STRATEGY_NAMES = TOKEN_STRATEGIES.map((strategy) => strategy.strategyName);
