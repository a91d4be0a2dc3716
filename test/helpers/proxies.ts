/**
 * Tiny HTTP proxies on 127.0.0.1 that record what passes through them: a forward proxy (CONNECT
 * tunnels and absolute-URI requests, what HTTP(S)_PROXY points at) and a reverse proxy in front
 * of one server (to see the method and path of every request the CLI sends to the registry).
 */
import { createServer, request, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { connect, type AddressInfo, type Socket } from "node:net";

/** One request as the proxy saw it: `CONNECT 127.0.0.1:5000`, `GET /v2/`, `DELETE /v2/a/manifests/…`. */
export interface ProxiedRequest {
  method: string;
  target: string;
}

export interface RecordingProxy {
  /** e.g. `http://127.0.0.1:40123`. */
  url: string;
  readonly log: ProxiedRequest[];
  close(): Promise<void>;
}

/** A forward proxy: tunnels CONNECT, forwards absolute-URI requests. */
export function startForwardProxy(): Promise<RecordingProxy> {
  const log: ProxiedRequest[] = [];
  const server = createServer((req, res) => {
    log.push({ method: req.method ?? "", target: req.url ?? "" });
    const target = new URL(req.url ?? "/");
    forward(req, res, target.hostname, Number(target.port || 80), `${target.pathname}${target.search}`);
  });
  const tunnels = new Set<Socket>();
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    log.push({ method: "CONNECT", target: req.url ?? "" });
    tunnels.add(client);
    client.on("close", () => tunnels.delete(client));
    const [host, port] = (req.url ?? "").split(":");
    const upstream = connect(Number(port), host!, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  return listen(server, log, tunnels);
}

/**
 * A reverse proxy in front of `origin` (an `http://host:port` URL). With `tls` it serves HTTPS
 * (and its url says `https://`): a TLS front for the GitLab stand-in. `responseHeaders` are added
 * to every answer (a header GitLab's registry sends and the Debian one does not).
 */
export async function startReverseProxy(
  origin: string, tls?: { cert: string; key: string }, responseHeaders: Record<string, string> = {},
): Promise<RecordingProxy> {
  const log: ProxiedRequest[] = [];
  const { hostname, port } = new URL(origin);
  const handler: RequestListener = (req, res) => {
    log.push({ method: req.method ?? "", target: req.url ?? "" });
    forward(req, res, hostname, Number(port), req.url ?? "/", responseHeaders);
  };
  const proxy = await listen(tls ? createTlsServer(tls, handler) : createServer(handler), log);
  return tls ? { ...proxy, url: proxy.url.replace(/^http:/, "https:") } : proxy;
}

function forward(
  req: IncomingMessage, res: ServerResponse, host: string, port: number, path: string, responseHeaders: Record<string, string> = {},
): void {
  const upstream = request({ host, port, path, method: req.method, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, { ...answer.headers, ...responseHeaders });
    answer.pipe(res);
  });
  upstream.on("error", () => res.writeHead(502).end());
  req.pipe(upstream);
}

async function listen(server: Server, log: ProxiedRequest[], tunnels = new Set<Socket>()): Promise<RecordingProxy> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    close: async () => {
      server.closeAllConnections();
      for (const socket of tunnels) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
