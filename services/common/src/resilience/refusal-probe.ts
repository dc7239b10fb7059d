import type { IncomingHttpHeaders } from 'node:http';

/**
 * Asked by the tracing set-up (telemetry.ts) as each request arrives, before its span starts: a request that would be
 * refused now gets no span, so that refusing stays cheaper than serving. Kept on globalThis because telemetry.ts is
 * loaded by --import, before the app's modules.
 */
export const wouldRefuseKey = Symbol.for('faultline.wouldRefuse');
type WouldRefuse = (headers: IncomingHttpHeaders) => boolean;
export function addRefusalProbe(probe: WouldRefuse) {
  const g = globalThis as { [wouldRefuseKey]?: WouldRefuse[] };
  (g[wouldRefuseKey] ??= []).push(probe);
}
