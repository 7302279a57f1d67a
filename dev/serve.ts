/**
 * What every double of the local stack does the same way: listen on a loopback port (a free one
 * by default) and, when its module is run as a script (`npx tsx dev/<double>.ts`), run its `main`
 * and report a failure on stderr with exit code 1.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";

/** Starts `server` on `host`:`port` (0: a free port); resolves with its base URL (`http://127.0.0.1:PORT`). */
export async function listenOnLoopback(server: Server, port = 0, host = "127.0.0.1"): Promise<{ url: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return { url: `http://${host.includes(":") ? `[${host}]` : host}:${bound}`, port: bound };
}

/** Runs `main` when the module of `moduleUrl` (its `import.meta.url`) is the script node was started with. */
export function runAsScript(moduleUrl: string, main: () => Promise<void>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
