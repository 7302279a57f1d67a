/**
 * The machine's speed, measured at the start of `npm run bench` so that figures taken on different
 * days can be compared: sessions on "the same" 2-vCPU machine have run twice as fast or as slow as
 * each other (docs/performance.md), and a throughput target means little without the speed it was
 * met at. Two fixed CPU-bound workloads, the best of {@link ROUNDS} runs each (the least disturbed
 * by other work), in ms (lower: a faster machine):
 * - Node ({@link nodeCalibration}): `JSON.stringify`, then `JSON.parse`, of {@link CALIBRATION_ROWS}
 *   rows shaped like WB order rows with Cyrillic text (~30 MB of JSON): what the Worker and the
 *   adapters spend most of a sync on;
 * - Postgres ({@link postgresCalibration}): `json_to_recordset` over the same number of generated
 *   rows into typed columns (text, timestamptz, numeric): what the sync's upserts spend most of their
 *   time on (see "Re-measured" in docs/performance.md), on one backend.
 */
import pg from "pg";

/** Rows per calibration workload. */
export const CALIBRATION_ROWS = 50_000;
/** Runs per workload; the fastest counts. */
export const ROUNDS = 5;

/** Best-of-{@link ROUNDS} times, ms. */
export interface Calibration {
  nodeJsonMs: number;
  /** Absent when the bench runs on PGlite (no server to measure). */
  postgresJsonMs?: number;
}

/** Fastest of {@link ROUNDS} runs of `timed`, which answers its own duration in ms; to one decimal. */
async function bestOf(timed: () => number | Promise<number>): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < ROUNDS; i++) best = Math.min(best, await timed());
  return Math.round(best * 10) / 10;
}

/** Rows shaped like WB order rows (strings with Cyrillic, WB times, numbers, booleans). */
function calibrationRows(count: number) {
  return Array.from({ length: count }, (_, i) => ({
    srid: `${i}.0.0-calibration`,
    date: `2026-11-${String(1 + (i % 28)).padStart(2, "0")}T12:${String(i % 60).padStart(2, "0")}:00`,
    nmId: 100_000 + (i % 3_000),
    supplierArticle: `артикул-${i % 3_000}`,
    warehouseName: `Склад ${i % 40} Коледино`,
    regionName: "Московская область",
    totalPrice: 1_000 + (i % 997),
    spp: i % 30,
    isCancel: i % 10 === 0,
  }));
}

/** Node's time to serialize and parse {@link CALIBRATION_ROWS} WB-like rows (best of {@link ROUNDS}), ms. */
export function nodeCalibration(): Promise<number> {
  const rows = calibrationRows(CALIBRATION_ROWS);
  return bestOf(() => {
    const started = performance.now();
    JSON.parse(JSON.stringify(rows));
    return performance.now() - started;
  });
}

/**
 * One Postgres backend's time to turn {@link CALIBRATION_ROWS} WB-like JSON rows into typed
 * records (`json_to_recordset`, best of {@link ROUNDS}), ms, measured by the server itself
 * (`clock_timestamp()` around the statement), so the client and the wire are not in it.
 * @throws the driver's error when `databaseUrl` cannot be reached.
 */
export async function postgresCalibration(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const json = JSON.stringify(calibrationRows(CALIBRATION_ROWS));
    return await bestOf(async () => {
      const { rows } = await client.query<{ ms: number }>(
        `select extract(epoch from clock_timestamp() - started) * 1000 as ms
         from (select clock_timestamp() as started) s,
              lateral (select count(*), max(r."date"), sum(r."totalPrice")
                       from json_to_recordset($1::json) as r("srid" text, "date" timestamptz, "nmId" integer,
                         "supplierArticle" text, "warehouseName" text, "regionName" text, "totalPrice" numeric,
                         "spp" numeric, "isCancel" boolean)) agg`,
        [json],
      );
      return Number(rows[0]?.ms);
    });
  } finally {
    await client.end();
  }
}

/** Both calibrations; Postgres only with a server URL. */
export async function calibrate(databaseUrl: string | undefined): Promise<Calibration> {
  const nodeJsonMs = await nodeCalibration();
  return databaseUrl ? { nodeJsonMs, postgresJsonMs: await postgresCalibration(databaseUrl) } : { nodeJsonMs };
}

/** The human line of a calibration. */
export function calibrationLine(c: Calibration): string {
  const rows = CALIBRATION_ROWS.toLocaleString("en-US");
  const pgPart = c.postgresJsonMs === undefined ? "" : `, Postgres json_to_recordset ${c.postgresJsonMs} ms`;
  return `machine speed            ${rows} WB-like rows: Node JSON stringify+parse ${c.nodeJsonMs} ms${pgPart} (best of ${ROUNDS}; lower is faster; compare figures only between runs of similar speed)`;
}
