// What the two network faults share: an edge of the shop, named by its two ends, in one or both directions.
import { z } from 'zod';
import { UsageError } from '../../core/errors.ts';
import { edgeBetween, type EdgeName } from '../../core/topology.ts';
import { component, faultDuration, formatDuration, selector } from '../fields.ts';
import type { Inventory } from '../platform.ts';

export const edgeFields = {
  selector,
  target: z.strictObject({ service: component }).meta({ description: 'the other end of the edge' }),
  direction: z.enum(['to', 'from', 'both']).default('both').meta({ description: 'to: traffic from selector to target is dropped; from: the answers; both' }),
  duration: faultDuration,
};

export interface EdgeFault {
  selector: { service: string };
  target: { service: string };
  direction: 'to' | 'from' | 'both';
  duration: number;
}

export interface PlannedEdge {
  edge: EdgeName;
  client: string;
  server: string;
  direction: EdgeFault['direction'];
  durationMs: number;
}

/** Resolves the edge, or refuses: unknown targets are never guessed. */
export function planEdge(kind: string, fault: EdgeFault, inventory: Inventory): PlannedEdge {
  const edge = edgeBetween(fault.selector.service, fault.target.service);
  if (!edge || !inventory.edges.includes(edge.name)) {
    throw new UsageError(`${kind}: ${fault.selector.service} does not talk to ${fault.target.service}; the edges are ${inventory.edges.join(', ')}`);
  }
  return { edge: edge.name, client: edge.client, server: edge.server, direction: fault.direction, durationMs: fault.duration };
}

export const describeEdge = (kind: string, f: EdgeFault, extra = '') => `${kind} ${f.selector.service} -> ${f.target.service} (${f.direction}${extra}) for ${formatDuration(f.duration)}`;
