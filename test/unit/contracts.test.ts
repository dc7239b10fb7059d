import { describe, expect, it } from 'vitest';
import { ApiError, parseIdempotencyKey, parseOrderRequest } from '@faultline/common';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as ApiError).code;
  }
  return 'no error';
};

describe('order request contract', () => {
  it('accepts a well-formed order', () => {
    expect(parseOrderRequest({ items: [{ sku: 'margherita', qty: 2 }] })).toEqual({ items: [{ sku: 'margherita', qty: 2 }] });
  });
  it.each([
    [{ items: [{ sku: 'margherita', qty: 0 }] }, 'quantity_out_of_range'],
    [{ items: [{ sku: 'margherita', qty: 51 }] }, 'quantity_out_of_range'],
    [{ items: [{ sku: 'margherita', qty: '2' }] }, 'quantity_out_of_range'],
    [{ items: [] }, 'invalid_body'],
    [{ items: [{ sku: 'Bad SKU!', qty: 1 }] }, 'invalid_body'],
    [{ items: [{ sku: 'margherita', qty: 1 }], extra: true }, 'invalid_body'],
    [null, 'invalid_body'],
    [{ items: Array.from({ length: 21 }, () => ({ sku: 'margherita', qty: 1 })) }, 'invalid_body'],
  ])('rejects %j with %s', (body, code) => {
    expect(codeOf(() => parseOrderRequest(body))).toBe(code);
  });
  it('checks the Idempotency-Key header', () => {
    expect(codeOf(() => parseIdempotencyKey(undefined))).toBe('missing_idempotency_key');
    expect(codeOf(() => parseIdempotencyKey('short'))).toBe('invalid_idempotency_key');
    expect(codeOf(() => parseIdempotencyKey('has spaces in it'))).toBe('invalid_idempotency_key');
    expect(parseIdempotencyKey('0b6f6c5e-key')).toBe('0b6f6c5e-key');
  });
});
