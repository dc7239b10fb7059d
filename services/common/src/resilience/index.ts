export * from './admission.ts';
export * from './deadline.ts';
export * from './gradient-limit.ts';
export * from './dependency.ts';
export * from './metrics.ts';
export * from './retry-budget.ts';
export * from './refusal-probe.ts';
