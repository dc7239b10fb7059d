// Hand-written: no maintained middleware checks Host, Origin and Fetch Metadata together, and it is a few lines.
// A server on loopback is still reachable from a browser: a page on any site may send it "simple" cross-site
// requests, and DNS rebinding lets a page read from it under its own host name. These checks refuse both.
import type { NextFunction, Request, Response } from 'express';

const loopbackHost = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])(:\d+)?$/i;
/** Fetch Metadata values a browser sends for a request that did not come from another site's page. */
const ownSites = new Set(['same-origin', 'none']);

export type LoopbackRefusal = { code: 'forbidden_host' | 'cross_origin'; message: string };

/** Why a request must be refused by a loopback-only server, or undefined when it may go on. */
export function loopbackRefusal(headers: Request['headers']): LoopbackRefusal | undefined {
  const host = headers.host ?? '';
  if (!loopbackHost.test(host)) return { code: 'forbidden_host', message: `Host ${JSON.stringify(host)} is not a loopback name` };
  const origin = headers.origin;
  if (origin !== undefined) {
    let originHost: string | undefined;
    try {
      const url = new URL(origin);
      originHost = url.protocol === 'http:' ? url.host : undefined;
    } catch {
      originHost = undefined;
    }
    // Same origin means the same port too: another server on loopback is another site.
    if (originHost === undefined || !loopbackHost.test(originHost) || portOf(originHost) !== portOf(host)) {
      return { code: 'cross_origin', message: `requests from ${JSON.stringify(origin)} are refused: only this server's own pages may call it` };
    }
  }
  const site = headers['sec-fetch-site'];
  if (typeof site === 'string' && !ownSites.has(site)) return { code: 'cross_origin', message: `a ${site} request is refused: only this server's own pages may call it` };
  return undefined;
}

const portOf = (host: string) => /:(\d+)$/.exec(host)?.[1] ?? '80';

/** Express middleware: 403 with a JSON error for a foreign Host, Origin or Fetch Metadata site. */
export function loopbackOnly(req: Request, res: Response, next: NextFunction) {
  const refusal = loopbackRefusal(req.headers);
  if (refusal) return void res.status(403).json({ error: refusal });
  next();
}
