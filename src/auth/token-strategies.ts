import { JwksStrategy } from './jwks.strategy';
import { JwtStrategy } from './jwt.strategy';

/**
 * The token sources, in the order passport tries them for each request. Each declines the
 * tokens that are not its kind (by algorithm), so the order only decides who looks first. A new
 * source (Better Auth session tokens) is one more strategy class here.
 */
export const TOKEN_STRATEGIES = [JwtStrategy, JwksStrategy];

export const TOKEN_STRATEGY_NAMES = TOKEN_STRATEGIES.map((strategy) => strategy.strategyName);
