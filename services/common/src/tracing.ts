import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace, type Attributes, type TextMapGetter } from '@opentelemetry/api';
import type { IHeaders } from 'kafkajs';

const tracer = trace.getTracer('faultline');

const kafkaHeaders: TextMapGetter<IHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    if (value === undefined) return undefined;
    return Array.isArray(value) ? value.map(String) : String(value);
  },
};

/**
 * Runs the work for one Kafka message in a span whose parent is the producer's span, so that an order is one
 * trace from the gateway to kitchen. (The kafkajs instrumentation only links batch-consumed messages to it.)
 */
export function inMessageTrace<T>(name: string, headers: IHeaders | undefined, attributes: Attributes, work: () => Promise<T>): Promise<T> {
  const parent = propagation.extract(ROOT_CONTEXT, headers ?? {}, kafkaHeaders);
  return tracer.startActiveSpan(name, { kind: SpanKind.CONSUMER, attributes }, parent, async (span) => {
    try {
      return await work();
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}
