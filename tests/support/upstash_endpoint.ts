/**
 * An Upstash-REST-compatible endpoint over the machine's Redis (127.0.0.1:6379), so the production
 * `@upstash/redis` client runs in tests against a real Redis: `POST /` (one command),
 * `POST /pipeline`, `POST /multi-exec`, Bearer token, `Upstash-Encoding: base64` answers.
 */

type Reply = string | number | null | Reply[] | RedisReplyError;

class RedisReplyError extends Error {}

const CRLF = "\r\n";

/** A minimal RESP2 client on one TCP connection; commands are answered in order. */
export class RespClient {
  #conn: Deno.TcpConn;
  #buffer = new Uint8Array(0);
  #queue: Promise<unknown> = Promise.resolve();
  #decoder = new TextDecoder();

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  static async connect(port = 6379): Promise<RespClient> {
    return new RespClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends commands back to back and reads one reply each. */
  send(commands: (string | number)[][]): Promise<Reply[]> {
    const work = async () => {
      const encoder = new TextEncoder();
      let payload = "";
      for (const command of commands) {
        payload += `*${command.length}${CRLF}`;
        for (const arg of command) {
          const text = String(arg);
          payload += `$${encoder.encode(text).length}${CRLF}${text}${CRLF}`;
        }
      }
      const bytes = encoder.encode(payload);
      let written = 0;
      while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
      const replies: Reply[] = [];
      for (let i = 0; i < commands.length; i++) replies.push(await this.#read());
      return replies;
    };
    const result = this.#queue.then(work, work);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #fill(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.#conn.read(chunk);
    if (n === null) throw new Error("Redis closed the connection");
    const merged = new Uint8Array(this.#buffer.length + n);
    merged.set(this.#buffer);
    merged.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = merged;
  }

  async #line(): Promise<string> {
    while (true) {
      const end = this.#buffer.findIndex((b, i) => b === 13 && this.#buffer[i + 1] === 10);
      if (end >= 0) {
        const line = this.#decoder.decode(this.#buffer.subarray(0, end));
        this.#buffer = this.#buffer.subarray(end + 2);
        return line;
      }
      await this.#fill();
    }
  }

  async #bytes(length: number): Promise<string> {
    while (this.#buffer.length < length + 2) await this.#fill();
    const text = this.#decoder.decode(this.#buffer.subarray(0, length));
    this.#buffer = this.#buffer.subarray(length + 2);
    return text;
  }

  async #read(): Promise<Reply> {
    const line = await this.#line();
    const rest = line.slice(1);
    switch (line[0]) {
      case "+":
        return rest;
      case "-":
        return new RedisReplyError(rest);
      case ":":
        return Number(rest);
      case "$":
        return rest === "-1" ? null : await this.#bytes(Number(rest));
      case "*": {
        if (rest === "-1") return null;
        const items: Reply[] = [];
        for (let i = 0; i < Number(rest); i++) items.push(await this.#read());
        return items;
      }
      default:
        throw new Error(`Unexpected RESP reply: ${line}`);
    }
  }

  close(): void {
    this.#conn.close();
  }
}

function base64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

function encodeResult(reply: Reply, base64Encoding: boolean): unknown {
  if (Array.isArray(reply)) return reply.map((item) => encodeResult(item, base64Encoding));
  if (typeof reply === "string" && base64Encoding && reply !== "OK") return base64(reply);
  return reply;
}

function answer(reply: Reply, base64Encoding: boolean) {
  return reply instanceof RedisReplyError ? { error: reply.message } : { result: encodeResult(reply, base64Encoding) };
}

/** Whether the machine's Redis answers. */
export async function redisAvailable(): Promise<boolean> {
  try {
    const client = await RespClient.connect();
    const [pong] = await client.send([["PING"]]);
    client.close();
    return pong === "PONG";
  } catch {
    return false;
  }
}

/** Serves the Upstash REST protocol on a free loopback port; returns its URL, token and how to stop it. */
export async function startUpstashEndpoint(): Promise<
  { url: string; token: string; redis: RespClient; stop(): Promise<void> }
> {
  const redis = await RespClient.connect();
  const token = crypto.randomUUID();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    if (request.headers.get("authorization") !== `Bearer ${token}`) {
      return Response.json({ error: "Unauthorized" }, { status: 401 });
    }
    const base64Encoding = request.headers.get("upstash-encoding") === "base64";
    const path = new URL(request.url).pathname;
    const body = await request.json();
    if (path === "/pipeline" || path === "/multi-exec") {
      const commands = body as (string | number)[][];
      if (path === "/pipeline") {
        return Response.json((await redis.send(commands)).map((reply) => answer(reply, base64Encoding)));
      }
      const replies = await redis.send([["MULTI"], ...commands, ["EXEC"]]);
      const exec = replies.at(-1);
      if (!Array.isArray(exec)) return Response.json({ error: "EXECABORT Transaction discarded" }, { status: 400 });
      return Response.json(exec.map((reply) => answer(reply, base64Encoding)));
    }
    const [reply] = await redis.send([body as (string | number)[]]);
    const shaped = answer(reply, base64Encoding);
    return Response.json(shaped, { status: "error" in shaped ? 400 : 200 });
  });
  const { port } = server.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    redis,
    async stop() {
      await server.shutdown();
      redis.close();
    },
  };
}
