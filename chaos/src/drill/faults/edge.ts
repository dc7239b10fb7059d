// What the two network faults share: an edge of the shop, named by its two ends, in one or both directions.
import { z } from 'zod';
import { UsageError } from '../../core/errors.ts';
import { edgeBetween, type EdgeName } from '../../core/topology.ts';
import { component, faultDuration, formatDuration, roleFitsStore, storeRole } from '../fields.ts';
import type { Inventory } from '../platform.ts';

export const edgeFields = {
  selector: z
    .strictObject({
      service: component,
      role: storeRole.optional().meta({ description: 'redis -> redis or kafka -> kafka only: just the links of the nodes with this role now' }),
    })
    .refine(...roleFitsStore)
    .meta({ description: 'one end of the edge: a service, or a store (redis -> redis, kafka -> kafka: the links between its nodes)' }),
  target: z.strictObject({ service: component }).meta({ description: 'the other end of the edge' }),
  direction: z.enum(['to', 'from', 'both']).default('both').meta({ description: 'to: traffic from selector to target is dropped; from: the answers; both' }),
  duration: faultDuration,
};

export interface EdgeFault {
  selector: { service: string; role?: string };
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
  /** For a store edge chosen by role: the nodes whose links it cuts or slows (the others' are left alone). */
  nodes?: string[];
}

/** Resolves the edge, or refuses: unknown targets are never guessed. */
export function planEdge(kind: string, fault: EdgeFault, inventory: Inventory): PlannedEdge {
  const edge = edgeBetween(fault.selector.service, fault.target.service);
  if (!edge || !inventory.edges.includes(edge.name)) {
    throw new UsageError(`${kind}: ${fault.selector.service} does not talk to ${fault.target.service}; the edges are ${inventory.edges.join(', ')}`);
  }
  const role = fault.selector.role;
  if (role === undefined) return { edge: edge.name, client: edge.client, server: edge.server, direction: fault.direction, durationMs: fault.duration };
  const nodes = Object.entries(inventory.roles ?? {}).flatMap(([node, r]) => (r === role && node.startsWith(`${edge.server}-`) ? [node] : []));
  if (edge.client !== edge.server || nodes.length === 0) throw new UsageError(`${kind}: no ${fault.selector.service} node is ${role} here; a role selects among a store's nodes (redis -> redis or kafka -> kafka in the HA topology)`);
  return { edge: edge.name, client: edge.client, server: edge.server, direction: fault.direction, durationMs: fault.duration, nodes };
}

export const describeEdge = (kind: string, f: EdgeFault, extra = '') => `${kind} ${f.selector.service}${f.selector.role ? ` ${f.selector.role}` : ''} -> ${f.target.service} (${f.direction}${extra}) for ${formatDuration(f.duration)}`;
