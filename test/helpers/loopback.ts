/** Starting and stopping the small loopback servers tests use as fault injectors and proxies. */
import type { Server } from "node:http";
import { createServer, type AddressInfo } from "node:net";

/** Listens on a free port of 127.0.0.1 and returns the server's base URL. */
export async function listenOnLoopback(server: Server): Promise<URL> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

/** Drops open connections (keep-alive would hold close() up) and closes the server. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Binds port 0 to let the kernel pick a free port of 127.0.0.1, then releases it for a server we start. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
