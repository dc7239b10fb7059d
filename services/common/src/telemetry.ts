// Loaded with --import before the app, so that instrumentation patches modules before they are first imported.
import { register } from 'node:module';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import { NodeSDK } from '@opentelemetry/sdk-node';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

const off = { enabled: false };
const sdk = new NodeSDK({
  // Only what the shop uses: the rest would patch modules for nothing and add start-up time.
  instrumentations: getNodeAutoInstrumentations({
    '@opentelemetry/instrumentation-fs': off,
    '@opentelemetry/instrumentation-dns': off,
    '@opentelemetry/instrumentation-net': off,
    '@opentelemetry/instrumentation-runtime-node': off,
    '@opentelemetry/instrumentation-http': {
      ignoreIncomingRequestHook: (req) => /^\/(metrics|healthz|readyz)/.test(req.url ?? ''),
    },
  }),
});
sdk.start();
(globalThis as Record<symbol, unknown>)[Symbol.for('faultline.telemetry')] = sdk;
