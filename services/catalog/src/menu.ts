import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { apiError, keys, sku, type OrderLine, type OrderRequest, Counter, type Registry } from '@faultline/common';

export const menuItem = z.object({ sku, name: z.string().min(1), priceCents: z.number().int().positive() });
export type MenuItem = z.infer<typeof menuItem>;

export const seedMenu: MenuItem[] = z.array(menuItem).parse(JSON.parse(readFileSync(new URL('../menu.json', import.meta.url), 'utf8')));

/** Writes the seed menu without overwriting prices already stored, so every replica may run it. */
export async function seed(redis: Redis) {
  const multi = redis.multi();
  for (const item of seedMenu) multi.hsetnx(keys.menu, item.sku, JSON.stringify(item));
  await multi.exec();
}

/** The menu from Redis behind a short-lived in-process cache; concurrent misses share one Redis read. */
export function createMenuStore(redis: Redis, ttlMs: number, registry: Registry) {
  const lookups = new Counter({
    name: 'catalog_cache_requests_total',
    help: 'Menu cache lookups by result.',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const cache = new LRUCache<'menu', Map<string, MenuItem>>({
    max: 1,
    ttl: ttlMs,
    fetchMethod: async () => {
      lookups.inc({ result: 'miss' });
      const raw = await redis.hgetall(keys.menu);
      return new Map(Object.values(raw).map((json) => menuItem.parse(JSON.parse(json))).map((i) => [i.sku, i]));
    },
  });

  async function menu(): Promise<Map<string, MenuItem>> {
    if (cache.has('menu')) lookups.inc({ result: 'hit' });
    const items = await cache.fetch('menu').catch(() => undefined);
    if (!items) throw apiError('dependency_unavailable', 'the menu store (Redis) is unavailable', { retryAfterSeconds: 1 });
    return items;
  }

  return {
    menu,
    async list(): Promise<MenuItem[]> {
      return [...(await menu()).values()].sort((a, b) => a.sku.localeCompare(b.sku));
    },
    async quote(request: OrderRequest): Promise<{ lines: OrderLine[]; totalCents: number }> {
      const items = await menu();
      const unknown = request.items.filter((i) => !items.has(i.sku)).map((i) => i.sku);
      if (unknown.length > 0) throw apiError('unknown_sku', `not on the menu: ${[...new Set(unknown)].join(', ')}`, { details: { unknown } });
      const lines = request.items.map(({ sku: s, qty }) => {
        const item = items.get(s)!;
        return { sku: s, name: item.name, qty, unitPriceCents: item.priceCents };
      });
      return { lines, totalCents: lines.reduce((sum, l) => sum + l.qty * l.unitPriceCents, 0) };
    },
  };
}
