/**
 * A TCP port free on 127.0.0.1 at the moment of asking, for a process started next that takes a
 * port number rather than a listening socket (`wrangler dev`, its inspector). Another process may
 * take it in between; the local stack's own servers listen on port 0 instead.
 */
import { createServer } from "node:net";

/** A port the OS handed out for 127.0.0.1 and that is closed again. @throws the listen error. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}
