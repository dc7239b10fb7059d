// What other workspaces may use of the chaos controller: the PromQL that drills, reports and dashboards share.
export { promql, type Scope } from './core/promql.ts';
