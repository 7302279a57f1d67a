/**
 * Progress of one Wildberries sync job, told from successive `GET /api/v1/sync/status` answers
 * (`src/routes/jobs/sync-status.ts`): a line per data set whenever its rows or its error change,
 * a line when the job's status changes, and the end — succeeded with the rows stored per data set,
 * or dead with its last error. Pure: `npm run dev` polls and prints, the unit test feeds answers.
 */
import type { z } from "zod";
import type { syncStatusResponse } from "../src/routes/jobs/schemas";

/** The answer of `GET /api/v1/sync/status`. */
export type SyncStatusView = z.infer<typeof syncStatusResponse>;

/** A line to print: `sync` for progress, `warn` for a failed attempt or an error. */
export interface ProgressLine {
  level: "sync" | "warn";
  text: string;
}

/** How the job ended. */
export interface SyncEnd {
  ok: boolean;
  text: string;
}

/** Thousands separated: 49793 → `49,793`. */
const count = (n: number) => n.toLocaleString("en-US");

/**
 * Follows job `jobId`. Each call of `next` with a newer status returns what changed since the
 * previous one and, once the job is `succeeded` or `dead`, its end. `before` is the status read
 * before the job was started; without it the first call only sets the baseline (so rows stored by
 * earlier syncs are never reported as progress). `elapsedMs` is used when the job row lacks its times.
 */
export function followSync(jobId: string, before?: SyncStatusView) {
  let previous: SyncStatusView | undefined = before;
  let lastJobState: string | undefined;
  return {
    next(status: SyncStatusView, elapsedMs: number): { lines: ProgressLine[]; end?: SyncEnd } {
      const lines: ProgressLine[] = [];
      const width = Math.max(...status.datasets.map((d) => d.dataset.length));
      for (const d of status.datasets) {
        const before = previous?.datasets.find((p) => p.dataset === d.dataset);
        if (!previous) continue;
        const name = d.dataset.padEnd(width);
        if (!before || before.totalRows !== d.totalRows || before.lastRunRows !== d.lastRunRows) {
          lines.push({ level: "sync", text: `${name}  ${count(d.totalRows)} rows stored (+${count(d.lastRunRows)} in this sync)` });
        }
        if (d.lastError && d.lastError !== before?.lastError) lines.push({ level: "warn", text: `${name}  error: ${d.lastError}` });
      }
      previous = status;

      const job = status.jobs.find((j) => j.id === jobId);
      if (!job) return { lines };
      const state = `${job.status}:${job.attempts}`;
      const changed = state !== lastJobState;
      lastJobState = state;
      const seconds = ((job.finishedAt ? Date.parse(job.finishedAt) - Date.parse(job.createdAt) : elapsedMs) / 1000).toFixed(1);
      if (job.status === "succeeded") {
        const rows = status.datasets.map((d) => `${d.dataset} ${count(d.totalRows)}`).join(", ");
        return { lines, end: { ok: true, text: `First sync done in ${seconds} s: ${rows}` } };
      }
      if (job.status === "dead") {
        const error = job.lastError ?? status.datasets.find((d) => d.lastError)?.lastError ?? "no error recorded";
        return { lines, end: { ok: false, text: `First sync failed after ${seconds} s (dead-lettered): ${error}` } };
      }
      if (changed && job.status === "failed") {
        lines.push({ level: "warn", text: `attempt ${job.attempts} failed: ${job.lastError ?? "?"}; QStash retries it` });
      } else if (changed && job.status === "running" && job.attempts > 0) {
        lines.push({ level: "sync", text: `job ${job.id} running (delivery ${job.attempts})` });
      }
      return { lines };
    },
  };
}
