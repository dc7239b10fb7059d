// The dashboards that ship in the chart, one JSON file each.
import { drillOverview } from './drill-overview.ts';
import { serviceView } from './service.ts';
import { storesView } from './stores.ts';

export const dashboards = [drillOverview, serviceView, storesView];
