// How a drill reaches the shop in a cluster with nothing but a kubeconfig: HTTP through the API server's service and
// pod proxies, and TCP (Redis) through a port-forward. Both are served on loopback for the drill's own clients:
// - the proxy at http://127.0.0.1:<port>/<random token>/..., forwarding to the API server with the kubeconfig's
//   credentials; a request without the token is refused, so other local users cannot borrow them;
// - a port-forward listener on 127.0.0.1:<port> per target pod, one WebSocket stream per connection.
// Hand-written over node:http and client-node's PortForward: `kubectl proxy` and `kubectl port-forward` are the same
// thirty lines, and a child kubectl would need a binary of a matching version.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { PortForward, type KubeConfig } from '@kubernetes/client-node';

export interface LoopbackServer {
  /** http://127.0.0.1:<port>/<token> for the proxy; 127.0.0.1:<port> for a tunnel. */
  address: string;
  close(): Promise<void>;
}

const listen = (server: net.Server) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });

const closeServer = (server: net.Server, sockets: Set<net.Socket>) =>
  new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });

/** The API server, as a plain-HTTP base URL on loopback: paths below it are the API's own (/api/v1/...). */
export async function apiProxy(kc: KubeConfig): Promise<LoopbackServer> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const upstream = new URL(cluster.server);
  const client = upstream.protocol === 'https:' ? https : http;
  const token = randomBytes(16).toString('hex');
  const prefix = `/${token}`;
  const sockets = new Set<net.Socket>();
  const server = http.createServer(async (req, res) => {
    if (!req.url?.startsWith(`${prefix}/`)) {
      res.writeHead(404).end();
      return;
    }
    const options: https.RequestOptions = { method: req.method, headers: { ...req.headers, host: upstream.host } };
    await kc.applyToHTTPSOptions(options);
    const forward = client.request(new URL(req.url.slice(prefix.length), upstream), options, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', (err) => (res.headersSent ? res.destroy(err) : res.writeHead(502, { 'content-type': 'text/plain' }).end(`API server: ${err.message}`)));
    req.pipe(forward);
  });
  server.on('connection', (s) => (sockets.add(s), s.once('close', () => sockets.delete(s))));
  const port = await listen(server);
  return { address: `http://127.0.0.1:${port}${prefix}`, close: () => closeServer(server, sockets) };
}

/** A TCP port on loopback that reaches `port` of one pod, like `kubectl port-forward`. */
export async function podTunnel(kc: KubeConfig, namespace: string, pod: string, port: number): Promise<LoopbackServer> {
  const forward = new PortForward(kc);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    forward
      .portForward(namespace, pod, [port], socket, null, socket)
      .then((ws) => {
        const close = () => (typeof ws === 'function' ? ws() : ws)?.close();
        socket.once('close', close);
      })
      .catch(() => socket.destroy());
  });
  const local = await listen(server);
  return { address: `127.0.0.1:${local}`, close: () => closeServer(server, sockets) };
}
