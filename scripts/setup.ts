// Installs the local runtime's real parts (Redis, Prometheus, Kafka, Toxiproxy, k6, Jaeger), pinned and idempotent.
import { installToolchain, SetupError, toolsDir } from '../chaos/src/local/toolchain.ts';

const started = Date.now();
console.log(`faultline setup → ${toolsDir}`);
try {
  installToolchain((line) => console.log(`  ${line}`));
  console.log(`setup done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (err) {
  if (!(err instanceof SetupError)) throw err;
  console.error(`setup failed: ${err.message}`);
  process.exit(1);
}
