/**
 * `deno task jobs:sync`: creates or updates this API's cron schedules in QStash (idempotent: one
 * schedule id per job). The embedded dispatcher needs no sync: it runs the same schedules itself.
 */
import { ConfigError, loadConfig } from "../adapters/config.ts";
import { QStashPublisher, SCHEDULES } from "./dispatcher.ts";

try {
  const config = loadConfig(Deno.env.toObject());
  if (!config.QSTASH_TOKEN || !config.PUBLIC_BASE_URL) {
    console.error(
      "jobs:sync needs QSTASH_TOKEN and PUBLIC_BASE_URL (the embedded dispatcher runs its schedules itself)",
    );
    Deno.exit(1);
  }
  await new QStashPublisher({ token: config.QSTASH_TOKEN, baseUrl: config.PUBLIC_BASE_URL.replace(/\/$/, "") })
    .syncSchedules();
  for (const schedule of SCHEDULES) console.log(`${schedule.cron.padEnd(12)} /jobs/${schedule.name}`);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  Deno.exit(1);
}
