// The read-only HTTP server behind `nnfs serve`: GET and HEAD of the site's fixed routes,
// 405 for every other method, 404 for every other path, and listen failures as one sentence.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from '../errors.js';
import { text, type Reply, type Site } from './site.js';

/**
 * Same-origin only: scripts, styles, the worker and fetches come from this server; no
 * inline script can run even if a file name or metric ever reached the page unescaped.
 */
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; worker-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** The request's path, without query or fragment; the URL parser also folds `..` and `.` segments. */
function requestPath(req: IncomingMessage): string | undefined {
  const target = req.url ?? '/';
  try {
    // Resolved against a base, `//evil.com/model.safetensors` would be a host and a path: a
    // path that starts with a slash is appended to the origin instead, so it stays a path.
    return (target.startsWith('/') ? new URL(`http://localhost${target}`) : new URL(target)).pathname;
  } catch {
    return undefined;
  }
}

function send(req: IncomingMessage, res: ServerResponse, reply: Reply, extra: Record<string, string> = {}): void {
  const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
  res.writeHead(reply.status, {
    ...SECURITY_HEADERS,
    'Content-Type': reply.type,
    'Content-Length': String(body.byteLength),
    'Cache-Control': reply.noStore ? 'no-store' : 'no-cache',
    ...extra,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * A loopback address (127.0.0.0/8, ::1, and 127.x as IPv6 writes it, ::ffff:127.0.0.1 or
 * ::ffff:7f00:1), or a name for one: what a page on this machine uses.
 */
function isLoopbackName(hostname: string): boolean {
  const bare = hostname.replace(/^\[(.*)\]$/, '$1');
  return bare === 'localhost' || bare === '::1' || /^(::ffff:)?127(\.\d{1,3}){3}$/i.test(bare) || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/i.test(bare);
}

/** The hostname a request's Host header names, or undefined when it has none or none that parses. */
function hostnameOf(req: IncomingMessage): string | undefined {
  try {
    return req.headers.host === undefined ? undefined : new URL(`http://${req.headers.host}`).hostname;
  } catch {
    return undefined;
  }
}

async function handle(site: Site, req: IncomingMessage, res: ServerResponse, loopbackOnly: boolean): Promise<void> {
  // Bound to this machine only, a request naming another host comes from a web page that
  // pointed its own domain at 127.0.0.1 (DNS rebinding): it must not read the model.
  const hostname = hostnameOf(req);
  if (loopbackOnly && hostname !== undefined && !isLoopbackName(hostname)) {
    send(req, res, text(403, `nnfs serve answers only to this machine's own names (localhost, 127.0.0.1, [::1]), not ${hostname}.\n`));
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(req, res, text(405, 'nnfs serve is read-only: only GET and HEAD are allowed.\n'), { Allow: 'GET, HEAD' });
    return;
  }
  const path = requestPath(req);
  const route = path === undefined ? undefined : site.routes.get(path);
  if (!route) {
    send(req, res, text(404, 'not found\n'));
    return;
  }
  send(req, res, await route());
}

/** Turns a listen failure into the one sentence the user needs. */
function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  switch (error.code) {
    case 'EADDRINUSE':
      return new UserError(`port ${port} is in use; pick another with --port.`);
    case 'EACCES':
      return new UserError(`port ${port} needs more privileges than nnfs has; pick one above 1023 with --port.`);
    case 'EADDRNOTAVAIL':
      return new UserError(`host ${host} is not an address of this machine; pick another with --host.`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new UserError(`host ${host} cannot be resolved; pick another with --host.`);
    case 'EINVAL':
      // An IPv6 link-local address without its interface (fe80::1 rather than fe80::1%eth0), say.
      return new UserError(`cannot listen on host ${host}: the system calls it invalid (an IPv6 link-local address needs its interface, as in fe80::1%eth0); pick another with --host.`);
    default:
      return error;
  }
}

export interface Listening {
  server: Server;
  /** The page's address, with the real port when 0 was asked for. */
  url: string;
  /** Listening on every address of the machine, not only the URL's. */
  everyAddress: boolean;
}

/** Listens on host:port (0 = any free port) and serves `site` until the server is closed. */
export function startServer(site: Site, host: string, port: number): Promise<Listening> {
  // Set once listening, before any request can arrive.
  let loopbackOnly = false;
  const server = createServer((req, res) => {
    handle(site, req, res, loopbackOnly).catch((error: unknown) => {
      // A route failing is a bug or a file vanishing mid-read; answer, and keep serving.
      process.stderr.write(`nnfs: error serving ${req.url}: ${error instanceof Error ? error.message : String(error)}\n`);
      if (!res.headersSent) send(req, res, text(500, 'internal error\n'));
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, host, port)));
    server.listen(port, host, () => {
      const address = server.address() as AddressInfo;
      loopbackOnly = isLoopbackName(address.address);
      // Listening on every address (0.0.0.0, ::): the URL to open is this machine's own.
      const everyAddress = address.address === '0.0.0.0' || address.address === '::';
      const local = !everyAddress ? address.address : address.family === 'IPv6' ? '::1' : '127.0.0.1';
      const shownHost = address.family === 'IPv6' ? `[${local}]` : local;
      resolve({ server, url: `http://${shownHost}:${address.port}/`, everyAddress });
    });
  });
}
