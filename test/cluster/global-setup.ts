// The cluster files need the control-plane binaries; say how to get them once, instead of failing in every file.
import { existsSync } from 'node:fs';
import { controlPlanePaths } from '../../tooling/toolchain.ts';

export default function setup() {
  const missing = Object.entries(controlPlanePaths).filter(([, file]) => !existsSync(file));
  if (missing.length > 0) {
    throw new Error(`not installed: ${missing.map(([what, file]) => `${what} (${file})`).join(', ')}. Run \`npm run setup -- --with-cluster\` (or \`npm run test:cluster\`, which does).`);
  }
}
