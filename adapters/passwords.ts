/** Password hashing with argon2id at the eSalão source's parameters (64 MiB, 3 iterations, 1 lane). */
import { hash, verify } from "@node-rs/argon2";

// `Algorithm.Argon2id` of @node-rs/argon2: an ambient const enum, which isolated modules cannot read.
const ARGON2ID = 2;

export interface Argon2Parameters {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export const DEFAULT_ARGON2: Argon2Parameters = { memoryCost: 65536, timeCost: 3, parallelism: 1 };

/** Hashes and verifies passwords; `needsRehash` tells when a stored hash uses other parameters. */
export class PasswordHasher {
  readonly #params: Argon2Parameters;
  #dummy?: Promise<string>;

  constructor(params: Argon2Parameters = DEFAULT_ARGON2) {
    this.#params = params;
  }

  hash(password: string): Promise<string> {
    return hash(password, { algorithm: ARGON2ID, ...this.#params });
  }

  /**
   * Verifies a password. With no stored hash, or an unusable one (an invited account that has not
   * chosen a password yet), it verifies against a dummy so the cost is the same and says no.
   */
  async verify(storedHash: string | null, password: string): Promise<boolean> {
    if (storedHash === null || !storedHash.startsWith("$argon2")) {
      this.#dummy ??= this.hash(crypto.randomUUID());
      await verify(await this.#dummy, password);
      return false;
    }
    try {
      return await verify(storedHash, password);
    } catch {
      return false;
    }
  }

  /** True when the stored hash is not argon2id with the current parameters. */
  needsRehash(storedHash: string): boolean {
    const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(storedHash);
    if (!match) return true;
    const [, m, t, p] = match.map(Number);
    return m !== this.#params.memoryCost || t !== this.#params.timeCost || p !== this.#params.parallelism;
  }
}
