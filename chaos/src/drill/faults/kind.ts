import type { z } from 'zod';
import type { Inventory } from '../platform.ts';

/**
 * A fault kind, declared once for every platform: its drill-file schema, how its targets are resolved against a
 * platform's inventory (refusing unknown or greedy targets with a UsageError), how a plan describes it, and how the
 * runner holds it. Each platform implements it in its own faults/ folder (see Platform.faults).
 */
export interface FaultKind<Schema extends z.ZodType, Planned> {
  schema: Schema;
  plan(fault: z.output<Schema>, inventory: Inventory, random?: () => number): Planned;
  describe(fault: z.output<Schema>): string;
  /**
   * How long the runner keeps it: for its `duration` and then removes it; while its `load` runs; or until the
   * platform has replaced what it killed (`recovery`), which is when a kill has fully played out.
   */
  lasts: 'duration' | 'load' | 'recovery';
}
