// The dashboards that ship in the chart, one JSON file each.
import { drillOverview } from './drill-overview.ts';
import { serviceView } from './service.ts';

export const dashboards = [drillOverview, serviceView];
