// Installs the local runtime's real parts (Redis, Prometheus, Kafka, Toxiproxy, k6, Jaeger) and the chart tooling,
// pinned and idempotent; `--with-kind` adds kind for scripts/kind/up.sh.
import { installKind, installToolchain, SetupError, toolsDir } from '../chaos/src/local/toolchain.ts';

const flags = process.argv.slice(2);
const unknown = flags.filter((f) => f !== '--with-kind');
if (unknown.length > 0) {
  console.error(`setup: unknown option ${unknown.join(' ')} (the only option is --with-kind)`);
  process.exit(2);
}

const started = Date.now();
console.log(`faultline setup → ${toolsDir}`);
try {
  const log = (line: string) => console.log(`  ${line}`);
  installToolchain(log);
  if (flags.includes('--with-kind')) installKind(log);
  console.log(`setup done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (err) {
  if (!(err instanceof SetupError)) throw err;
  console.error(`setup failed: ${err.message}`);
  process.exit(1);
}
