// Where the local runtime finds the real parts it runs. `npm run setup` (tooling/toolchain.ts) installs them here,
// at the versions pinned there.
import { join } from 'node:path';
import { projectRoot } from '../../core/paths.ts';

export const toolsDir = process.env.FAULTLINE_TOOLS_DIR ?? join(projectRoot, '.tools');

/** The Apache Kafka broker the local runtime runs (Maven Central jars). */
export const kafkaVersion = { version: '3.9.2', scala: '2.13' } as const;

export const toolPaths = {
  redisServer: '/usr/bin/redis-server',
  prometheus: '/usr/bin/prometheus',
  k6: join(toolsDir, 'bin', 'k6'),
  /** util-linux: starts k6 with the parent-death signal set. */
  setpriv: '/usr/bin/setpriv',
  /** coreutils: starts k6 at a niceness of its own, every thread of it (Linux keeps a niceness per thread). */
  nice: '/usr/bin/nice',
  toxiproxy: join(toolsDir, 'bin', 'toxiproxy-server'),
  jaeger: join(toolsDir, 'bin', 'jaeger'),
  kafkaLib: join(toolsDir, `kafka-${kafkaVersion.version}`, 'lib'),
  java: 'java',
};
