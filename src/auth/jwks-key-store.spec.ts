import { Logger } from '@nestjs/common';
import {
  base64url,
  KeyLike,
  errors,
  exportJWK,
  generateKeyPair,
  JWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import { JwksKeyStore, JwksKeyStoreOptions } from './jwks-key-store';

const OPTIONS: JwksKeyStoreOptions = {
  url: new URL('https://auth.example.com/api/auth/jwks'),
  cooldownMs: 5_000,
  cacheMaxAgeMs: 600_000,
  timeoutMs: 1_000,
};

interface SigningKey {
  kid: string;
  privateKey: KeyLike;
  publicJwk: JWK;
  privateJwk: JWK;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  const meta = { kid, alg: 'EdDSA', use: 'sig' };
  return {
    kid,
    privateKey,
    publicJwk: { ...(await exportJWK(publicKey)), ...meta },
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
  };
}

function signWith({ kid, privateKey }: SigningKey): Promise<string> {
  return new SignJWT()
    .setProtectedHeader({ alg: 'EdDSA', kid })
    .setSubject('user-1')
    .setExpirationTime('15m')
    .sign(privateKey);
}

/** The Better Auth JWKS endpoint, as the store's injected `fetch` sees it. */
class FakeJwksEndpoint {
  document: unknown = { keys: [] };
  failure?: 'network' | number;

  readonly fetch = jest.fn<Promise<Response>, Parameters<typeof fetch>>(() => {
    if (this.failure === 'network') return Promise.reject(new TypeError('fetch failed'));
    const status = this.failure ?? 200;
    return Promise.resolve(
      new Response(JSON.stringify(this.document), {
        status,
        headers: { 'content-type': 'application/json' },
      }),
    );
  });

  publish(...keys: JWK[]): void {
    this.document = { keys };
  }
}

describe(JwksKeyStore.name, () => {
  let endpoint: FakeJwksEndpoint;
  let now: number;
  let store: JwksKeyStore;
  let warn: jest.SpyInstance;
  let debug: jest.SpyInstance;
  let keyA: SigningKey;
  let keyB: SigningKey;

  const verify = (token: string, algorithms = ['EdDSA']) =>
    jwtVerify(token, store.getKey, { algorithms });
  const advance = (ms: number) => {
    now += ms;
  };

  beforeAll(async () => {
    [keyA, keyB] = await Promise.all([signingKey('key-a'), signingKey('key-b')]);
  });

  beforeEach(() => {
    endpoint = new FakeJwksEndpoint();
    now = 1_700_000_000_000;
    store = new JwksKeyStore(OPTIONS, endpoint.fetch, () => now);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    debug = jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
  });

  afterEach(() => {
    warn.mockRestore();
    debug.mockRestore();
  });

  describe('loading', () => {
    it('should not fetch until a key is needed, then fetch once', async () => {
      endpoint.publish(keyA.publicJwk);
      expect(endpoint.fetch).not.toHaveBeenCalled();

      await expect(verify(await signWith(keyA))).resolves.toMatchObject({
        payload: { sub: 'user-1' },
      });
      await verify(await signWith(keyA));

      expect(endpoint.fetch).toHaveBeenCalledTimes(1);
      expect(endpoint.fetch.mock.calls[0][0]).toBe(OPTIONS.url);
    });

    it('should share one fetch between concurrent first calls', async () => {
      endpoint.publish(keyA.publicJwk);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const respond = endpoint.fetch.getMockImplementation()!;
      endpoint.fetch.mockImplementation(async (...args) => {
        await gate;
        return respond(...args);
      });
      const token = await signWith(keyA);

      const results = Promise.all(Array.from({ length: 5 }, () => verify(token)));
      await new Promise((resolve) => setImmediate(resolve));
      expect(endpoint.fetch).toHaveBeenCalledTimes(1);
      release();

      await expect(results).resolves.toHaveLength(5);
      expect(endpoint.fetch).toHaveBeenCalledTimes(1);
    });

    it('should refuse tokens while no JWKS could ever be loaded, then recover', async () => {
      endpoint.publish(keyA.publicJwk);
      endpoint.failure = 503;
      const token = await signWith(keyA);

      await expect(verify(token)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);

      endpoint.failure = undefined;
      advance(OPTIONS.cooldownMs);
      await expect(verify(token)).resolves.toBeDefined();
      expect(endpoint.fetch).toHaveBeenCalledTimes(2);
    });
  });

  describe('unknown kid', () => {
    it('should pick up a rotated key with one refetch', async () => {
      endpoint.publish(keyA.publicJwk);
      await verify(await signWith(keyA));
      advance(OPTIONS.cooldownMs);
      endpoint.publish(keyA.publicJwk, keyB.publicJwk);

      await expect(verify(await signWith(keyB))).resolves.toBeDefined();
      expect(endpoint.fetch).toHaveBeenCalledTimes(2);
    });

    it('should refetch at most once per cooldown', async () => {
      endpoint.publish(keyA.publicJwk);
      await verify(await signWith(keyA));
      const unknown = await signWith(keyB);

      // Straight after the first load: still inside the cooldown.
      await expect(verify(unknown)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
      expect(endpoint.fetch).toHaveBeenCalledTimes(1);

      advance(OPTIONS.cooldownMs);
      for (let i = 0; i < 3; i++) {
        await expect(verify(unknown)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
      }
      expect(endpoint.fetch).toHaveBeenCalledTimes(2);

      advance(OPTIONS.cooldownMs - 1);
      await expect(verify(unknown)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
      expect(endpoint.fetch).toHaveBeenCalledTimes(2);

      advance(1);
      await expect(verify(unknown)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
      expect(endpoint.fetch).toHaveBeenCalledTimes(3);
    });
  });

  describe('cache age and outages', () => {
    it('should not refetch known keys before the cache max age', async () => {
      endpoint.publish(keyA.publicJwk);
      const token = await signWith(keyA);
      await verify(token);

      advance(OPTIONS.cacheMaxAgeMs);
      await verify(token);

      expect(endpoint.fetch).toHaveBeenCalledTimes(1);
    });

    it('should refresh in the background once the cache is older than its max age', async () => {
      endpoint.publish(keyA.publicJwk);
      await verify(await signWith(keyA));
      advance(OPTIONS.cacheMaxAgeMs + 1);
      endpoint.publish(keyB.publicJwk);

      // Served from the cache while the refresh it started runs.
      await expect(verify(await signWith(keyA))).resolves.toBeDefined();
      expect(endpoint.fetch).toHaveBeenCalledTimes(2);
      await store.refresh(); // joins the refresh in flight; the cooldown forbids another

      await expect(verify(await signWith(keyB))).resolves.toBeDefined();
      await expect(verify(await signWith(keyA))).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    });

    it.each([
      ['the network fails', 'network' as const, undefined],
      ['the server answers 500', 500, undefined],
      ['the body is not a JWKS', undefined, { error: 'maintenance' }],
    ])('should keep the cached keys when %s after max age', async (_case, failure, document) => {
      endpoint.publish(keyA.publicJwk);
      const token = await signWith(keyA);
      await verify(token);
      advance(OPTIONS.cacheMaxAgeMs + 1);
      endpoint.failure = failure;
      if (document) endpoint.document = document;

      await expect(verify(token)).resolves.toBeDefined();
      expect(endpoint.fetch).toHaveBeenCalledTimes(2);
      await store.refresh(); // lets the failing refresh finish

      await expect(verify(token)).resolves.toBeDefined();
      expect(endpoint.fetch).toHaveBeenCalledTimes(2);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('keeping 1 cached key(s)'));
    });

    it('should keep the cached keys when a refetch for an unknown kid fails', async () => {
      endpoint.publish(keyA.publicJwk);
      await verify(await signWith(keyA));
      advance(OPTIONS.cooldownMs);
      endpoint.failure = 'network';

      await expect(verify(await signWith(keyB))).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
      await expect(verify(await signWith(keyA))).resolves.toBeDefined();
      expect(endpoint.fetch).toHaveBeenCalledTimes(2);
    });
  });

  describe('a failing JWKS', () => {
    /** A blackholed host: every fetch runs into the timeout (the clock moves by it) and fails. */
    const blackhole = () =>
      endpoint.fetch.mockImplementation(() => {
        advance(OPTIONS.timeoutMs);
        return Promise.reject(new DOMException('The operation was aborted', 'TimeoutError'));
      });

    beforeEach(async () => {
      // As the issue found it: the timeout as long as the cooldown.
      store = new JwksKeyStore(
        { ...OPTIONS, timeoutMs: OPTIONS.cooldownMs },
        endpoint.fetch,
        () => now,
      );
      endpoint.publish(keyA.publicJwk);
      await verify(await signWith(keyA));
      advance(OPTIONS.cooldownMs);
    });

    it('should count the cooldown from the end of a fetch that timed out', async () => {
      blackhole();
      const unknown = await signWith(keyB);

      await expect(verify(unknown)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
      expect(endpoint.fetch).toHaveBeenCalledTimes(2);

      // Straight after the failed fetch: no new one, so the token fails without waiting.
      await expect(verify(unknown)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
      advance(OPTIONS.cooldownMs - 1);
      await expect(verify(unknown)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
      expect(endpoint.fetch).toHaveBeenCalledTimes(2);
      // Cached keys keep working meanwhile.
      await expect(verify(await signWith(keyA))).resolves.toBeDefined();
    });

    it('should try again one cooldown after each failure ends, however many failed', async () => {
      endpoint.failure = 'network';
      const unknown = await signWith(keyB);
      await expect(verify(unknown)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);

      const waits: number[] = [];
      for (let wait = OPTIONS.cooldownMs; waits.length < 6;) {
        const calls = endpoint.fetch.mock.calls.length;
        advance(wait - 1);
        await expect(verify(unknown)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
        expect(endpoint.fetch).toHaveBeenCalledTimes(calls);
        advance(1);
        await expect(verify(unknown)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
        expect(endpoint.fetch).toHaveBeenCalledTimes(calls + 1);
        waits.push(wait);
      }
      expect(waits).toEqual([5_000, 5_000, 5_000, 5_000, 5_000, 5_000]);
      expect(warn).toHaveBeenLastCalledWith(expect.stringContaining('next attempt in 5000 ms'));
    });

    it('should not make other tokens wait for the retry of a failing JWKS', async () => {
      endpoint.failure = 'network';
      const unknown = await signWith(keyB);
      await expect(verify(unknown)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
      advance(OPTIONS.cooldownMs);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      endpoint.fetch.mockImplementation(async () => {
        await gate;
        throw new TypeError('fetch failed');
      });

      const first = verify(unknown); // starts the retry and waits for it
      await new Promise((resolve) => setImmediate(resolve));
      expect(endpoint.fetch).toHaveBeenCalledTimes(3);
      // The retry is still hanging: another unknown-kid token is refused at once.
      await expect(verify(await signWith(keyB))).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
      release();
      await expect(first).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
      expect(endpoint.fetch).toHaveBeenCalledTimes(3);
    });

    it('should go back to the plain cooldown and pick up rotated keys once the JWKS is back', async () => {
      endpoint.failure = 'network';
      const rotated = await signWith(keyB);
      await expect(verify(rotated)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
      advance(OPTIONS.cooldownMs);
      await expect(verify(rotated)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);

      endpoint.failure = undefined;
      endpoint.publish(keyB.publicJwk);
      advance(2 * OPTIONS.cooldownMs);
      await expect(verify(rotated)).resolves.toBeDefined();
      expect(endpoint.fetch).toHaveBeenCalledTimes(4);

      // Healthy again: an unknown kid waits one cooldown, not the last backoff.
      advance(OPTIONS.cooldownMs);
      await expect(verify(await signWith(keyA))).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
      expect(endpoint.fetch).toHaveBeenCalledTimes(5);
    });
  });

  describe('keys it must not use', () => {
    it('should ignore symmetric keys in the document', async () => {
      const secret = new TextEncoder().encode('a shared secret published by mistake!');
      const hmacToken = await new SignJWT()
        .setProtectedHeader({ alg: 'HS256', kid: 'hmac' })
        .setSubject('attacker')
        .setExpirationTime('15m')
        .sign(secret);
      endpoint.publish(keyA.publicJwk, {
        kty: 'oct',
        kid: 'hmac',
        alg: 'HS256',
        k: base64url.encode(secret),
      });

      await expect(verify(hmacToken, ['HS256'])).rejects.toBeInstanceOf(errors.JOSEError);
      await expect(verify(await signWith(keyA))).resolves.toBeDefined();
      expect(debug).toHaveBeenCalledWith(expect.stringContaining('Loaded 1 signing key(s)'));
    });

    it('should ignore private keys in the document', async () => {
      endpoint.publish(keyA.privateJwk);

      await expect(verify(await signWith(keyA))).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    });

    it('should use the public key when its private half is published beside it', async () => {
      endpoint.publish(keyA.privateJwk, keyA.publicJwk);

      await expect(verify(await signWith(keyA))).resolves.toBeDefined();
    });

    it('should ignore keys meant for encryption', async () => {
      endpoint.publish({ ...keyA.publicJwk, use: 'enc' });

      await expect(verify(await signWith(keyA))).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    });
  });
});
