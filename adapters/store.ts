/**
 * The small key-value store the app needs from Redis (rate limits, token deny lists, caches):
 * Upstash REST in production, Deno KV as the embedded default, an in-memory map in tests.
 */
import { Redis } from "@upstash/redis";

export interface KeyValueStore {
  /** "upstash" or "embedded", for logs and health. */
  readonly kind: "upstash" | "embedded";
  ping(): Promise<void>;
  get(key: string): Promise<string | null>;
  /** Sets a value that expires after `ttlSeconds`. */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Sets a value only if the key is absent (a lock or a first claim); true when this call set it. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /** Increments a counter, starting its expiry on first use; returns the new value. */
  increment(key: string, ttlSeconds: number): Promise<number>;
  /**
   * Takes one back from a live counter (an attempt counted up front that turned out not to count),
   * keeping its expiry; returns the new value. A counter that is absent, expired or at zero stays
   * as it is (and 0 is returned): giving back never creates a key without an expiry or goes below zero.
   */
  decrement(key: string): Promise<number>;
  delete(key: string): Promise<void>;
}

/** In-memory store with expiry, read against the given clock. */
export class MemoryStore implements KeyValueStore {
  readonly kind = "embedded" as const;
  readonly #entries = new Map<string, { value: string; expiresAt: number }>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  #live(key: string) {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  get(key: string): Promise<string | null> {
    return Promise.resolve(this.#live(key)?.value ?? null);
  }

  set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlSeconds * 1000 });
    return Promise.resolve();
  }

  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    if (this.#live(key)) return Promise.resolve(false);
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlSeconds * 1000 });
    return Promise.resolve(true);
  }

  increment(key: string, ttlSeconds: number): Promise<number> {
    const entry = this.#live(key);
    const next = (entry ? Number(entry.value) : 0) + 1;
    this.#entries.set(key, {
      value: String(next),
      expiresAt: entry?.expiresAt ?? this.#now() + ttlSeconds * 1000,
    });
    return Promise.resolve(next);
  }

  decrement(key: string): Promise<number> {
    const entry = this.#live(key);
    const value = entry ? Number(entry.value) : 0;
    if (!entry || value <= 0) return Promise.resolve(Math.max(0, value));
    entry.value = String(value - 1);
    return Promise.resolve(value - 1);
  }

  delete(key: string): Promise<void> {
    this.#entries.delete(key);
    return Promise.resolve();
  }
}

/** Decrements KEYS[1] only when it holds a positive count; answers the count. */
const DECREMENT_LIVE = `local value = tonumber(redis.call('GET', KEYS[1]))
if value == nil then return 0 end
if value <= 0 then return value end
return redis.call('DECR', KEYS[1])`;

/** Store over Upstash's REST API; every key carries the prefix so deployments can share a database. */
export class UpstashStore implements KeyValueStore {
  readonly kind = "upstash" as const;
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(options: { url: string; token: string; prefix?: string }) {
    this.#redis = new Redis({ url: options.url, token: options.token, automaticDeserialization: false });
    this.#prefix = options.prefix ?? "";
  }

  async ping(): Promise<void> {
    await this.#redis.ping();
  }

  async get(key: string): Promise<string | null> {
    return await this.#redis.get<string>(this.#prefix + key);
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.#redis.set(this.#prefix + key, value, { ex: ttlSeconds });
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    return (await this.#redis.set(this.#prefix + key, value, { ex: ttlSeconds, nx: true })) === "OK";
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    const [count] = await this.#redis.multi()
      .incr(this.#prefix + key)
      .expire(this.#prefix + key, ttlSeconds, "NX")
      .exec<[number, number]>();
    return count;
  }

  async decrement(key: string): Promise<number> {
    // One script, so the check and the DECR are atomic: a bare DECR on a key that just expired
    // would create it at -1 with no expiry.
    return Number(await this.#redis.eval(DECREMENT_LIVE, [this.#prefix + key], []));
  }

  async delete(key: string): Promise<void> {
    await this.#redis.del(this.#prefix + key);
  }
}

interface KvEntry {
  v: string;
  /** Expiry in epoch milliseconds: Deno KV's own expiry is best-effort, so reads check it too. */
  exp: number;
}

/** Store over Deno KV: the embedded default (a file under `.data/` in dev, `:memory:` in tests). */
export class KvStore implements KeyValueStore {
  readonly kind = "embedded" as const;
  readonly #kv: Deno.Kv;
  readonly #now: () => number;
  readonly #queues = new Map<string, Promise<void>>();

  constructor(kv: Deno.Kv, now: () => number = Date.now) {
    this.#kv = kv;
    this.#now = now;
  }

  /** Opens a store at a path (or `:memory:`). */
  static async open(path: string): Promise<KvStore> {
    const slash = path.lastIndexOf("/");
    if (path !== ":memory:" && slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
    return new KvStore(await Deno.openKv(path));
  }

  async #read(key: string) {
    const entry = await this.#kv.get<KvEntry>(["store", key]);
    const live = entry.value !== null && entry.value.exp > this.#now() ? entry.value : null;
    return { live, versionstamp: entry.versionstamp };
  }

  async ping(): Promise<void> {
    await this.#kv.get(["store", "__ping"]);
  }

  async get(key: string): Promise<string | null> {
    return (await this.#read(key)).live?.v ?? null;
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.#kv.set(["store", key], { v: value, exp: this.#now() + ttlSeconds * 1000 }, {
      expireIn: ttlSeconds * 1000,
    });
  }

  /**
   * Runs read-modify-write operations on one key one at a time within this process. The atomic
   * check below still guards against other processes; without this queue, many concurrent
   * requests on one key (every request of one client bumps the same counter) would keep failing
   * each other's checks and retry in a storm.
   */
  #exclusive<T>(key: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(key) ?? Promise.resolve();
    const result = previous.then(operation, operation);
    const tail = result.then(() => {}, () => {});
    this.#queues.set(key, tail);
    tail.then(() => {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    });
    return result;
  }

  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    return this.#exclusive(key, () => this.#setIfAbsent(key, value, ttlSeconds));
  }

  async #setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    while (true) {
      const { live, versionstamp } = await this.#read(key);
      if (live) return false;
      const result = await this.#kv.atomic().check({ key: ["store", key], versionstamp })
        .set(["store", key], { v: value, exp: this.#now() + ttlSeconds * 1000 }, { expireIn: ttlSeconds * 1000 })
        .commit();
      if (result.ok) return true;
    }
  }

  increment(key: string, ttlSeconds: number): Promise<number> {
    return this.#exclusive(key, () => this.#increment(key, ttlSeconds));
  }

  async #increment(key: string, ttlSeconds: number): Promise<number> {
    // Optimistic read-modify-write: a writer in another process makes the check fail and the loop retry.
    while (true) {
      const { live, versionstamp } = await this.#read(key);
      const next: KvEntry = live
        ? { v: String(Number(live.v) + 1), exp: live.exp }
        : { v: "1", exp: this.#now() + ttlSeconds * 1000 };
      const result = await this.#kv.atomic().check({ key: ["store", key], versionstamp })
        .set(["store", key], next, { expireIn: Math.max(1, next.exp - this.#now()) })
        .commit();
      if (result.ok) return Number(next.v);
    }
  }

  decrement(key: string): Promise<number> {
    return this.#exclusive(key, () => this.#decrement(key));
  }

  async #decrement(key: string): Promise<number> {
    while (true) {
      const { live, versionstamp } = await this.#read(key);
      const value = live ? Number(live.v) : 0;
      if (!live || value <= 0) return Math.max(0, value);
      const next: KvEntry = { v: String(value - 1), exp: live.exp };
      const result = await this.#kv.atomic().check({ key: ["store", key], versionstamp })
        .set(["store", key], next, { expireIn: Math.max(1, next.exp - this.#now()) })
        .commit();
      if (result.ok) return value - 1;
    }
  }

  async delete(key: string): Promise<void> {
    await this.#kv.delete(["store", key]);
  }

  close(): void {
    this.#kv.close();
  }
}
