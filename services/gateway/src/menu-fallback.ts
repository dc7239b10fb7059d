import type { Response } from 'express';
import { Counter, degradedHeader, isApiError, type Registry, type UpstreamResponse } from '@faultline/common';

/**
 * Keeps the last menu the catalog served. While the catalog is unavailable (its breaker open, or the call failing),
 * GET /api/menu answers with that copy, marked `X-Degraded: catalog-unavailable` with its `Age`, instead of an error.
 */
export function lastGoodMenu(registry: Registry, enabled: boolean) {
  let last: { body: unknown; at: number } | undefined;
  const degraded = new Counter({ name: 'gateway_degraded_responses_total', help: 'Responses served from the last good copy because a dependency was unavailable.', labelNames: ['route'] as const, registers: [registry] });
  return {
    async serve(res: Response, fetchMenu: () => Promise<UpstreamResponse>) {
      try {
        const { body } = await fetchMenu();
        last = { body, at: Date.now() };
        res.json(body);
      } catch (err) {
        if (!enabled || !last || !(isApiError(err) && err.code === 'dependency_unavailable')) throw err;
        degraded.inc({ route: '/api/menu' });
        res.set({ [degradedHeader]: 'catalog-unavailable', Age: String(Math.floor((Date.now() - last.at) / 1000)) }).json(last.body);
      }
    },
  };
}
