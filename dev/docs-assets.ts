/**
 * Serves the Scalar API reference's browser bundle (`@scalar/api-reference`, a devDependency)
 * on loopback, so `/docs` renders on the local stack without reaching a CDN. In production
 * `DOCS_SCRIPT_URL` keeps its default, Scalar's CDN.
 */
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

/** A running asset server: the script URL to put in `DOCS_SCRIPT_URL`, and `close`. */
export interface DocsAssets {
  scriptUrl: string;
  close(): Promise<void>;
}

/** Starts the asset server on `port` (default: a free one). */
export async function startDocsAssets(port = 0): Promise<DocsAssets> {
  const file = createRequire(import.meta.url).resolve("@scalar/api-reference/browser/standalone.js");
  const script = await readFile(file);
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/standalone.js") {
      res.writeHead(200, {
        "Content-Type": "text/javascript; charset=utf-8",
        "Cache-Control": "max-age=3600",
        "Access-Control-Allow-Origin": "*",
      });
      res.end(script);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    scriptUrl: `http://127.0.0.1:${bound}/standalone.js`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
