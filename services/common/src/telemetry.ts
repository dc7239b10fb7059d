// Loaded with --import before the app, so that instrumentation patches modules before they are first imported.
import type { IncomingHttpHeaders } from 'node:http';
import { register } from 'node:module';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import { ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { NodeSDK } from '@opentelemetry/sdk-node';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

const off = { enabled: false };
// Filled by admission control and the rate limiter (wouldRefuseKey in resilience/refusal-probe.ts): a request they would
// refuse now gets no span. Refusals are counted by metrics; tracing each would cost more than refusing it.
const wouldRefuse = (headers: IncomingHttpHeaders) => ((globalThis as Record<symbol, Array<(h: IncomingHttpHeaders) => boolean> | undefined>)[Symbol.for('faultline.wouldRefuse')] ?? []).some((probe) => probe(headers));
const sdk = new NodeSDK({
  // Only what the shop uses: the rest would patch modules for nothing and add start-up time.
  instrumentations: getNodeAutoInstrumentations({
    '@opentelemetry/instrumentation-fs': off,
    '@opentelemetry/instrumentation-dns': off,
    '@opentelemetry/instrumentation-net': off,
    '@opentelemetry/instrumentation-runtime-node': off,
    // Route spans are enough; one span per express middleware would bury them.
    '@opentelemetry/instrumentation-express': { ignoreLayersType: [ExpressLayerType.MIDDLEWARE] },
    '@opentelemetry/instrumentation-http': {
      ignoreIncomingRequestHook: (req) => /^\/(metrics|healthz|readyz)/.test(req.url ?? '') || wouldRefuse(req.headers),
    },
  }),
});
sdk.start();
(globalThis as Record<symbol, unknown>)[Symbol.for('faultline.telemetry')] = sdk;
