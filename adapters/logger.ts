/** JSON log lines on stdout, one object per line. Callers pass fields, never secrets or bodies. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * Field names whose values never reach a log line, whoever passes them: credentials, cards, and
 * message texts and codes (a message body may carry a single-use code).
 */
const REDACTED = /pass(word)?|secret|token|authorization|cookie|card|cvc|single_use|^(body|text|html|code|sms)$/i;

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(fields).map(([key, value]) => [key, REDACTED.test(key) ? "[redacted]" : value]),
  );
}

/** Returns a logger writing JSON lines at or above `level` through `write`. */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => console.log(line),
): Logger {
  const emit = (at: Exclude<LogLevel, "silent">) => (message: string, fields: Record<string, unknown> = {}) => {
    if (RANK[at] < RANK[level]) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: at, message, ...redact(fields) }));
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}
