import { join, resolve } from 'node:path';

/** The repository (or image) root: drills, load scripts and the services live below it. */
export const projectRoot = resolve(import.meta.dirname, '../../..');
export const drillsDir = join(projectRoot, 'chaos/drills');
export const loadScriptsDir = join(projectRoot, 'chaos/load');
