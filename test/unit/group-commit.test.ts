import { describe, expect, it } from 'vitest';
import type { Message } from 'kafkajs';
import { groupCommit } from '../../services/orders/src/group-commit.ts';

/** A producer whose sends finish when the test says, recording each request's messages. */
function heldProducer() {
  const requests: string[][] = [];
  const pending: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  return {
    requests,
    send: ({ messages }: { messages: Message[] }) => {
      requests.push(messages.map((m) => String(m.value)));
      return new Promise<never[]>((resolve, reject) => pending.push({ resolve: () => resolve([]), reject }));
    },
    finish: () => pending.shift()!.resolve(),
    fail: (err: Error) => pending.shift()!.reject(err),
  };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('group commit to the order log', () => {
  it('sends a message at once when nothing is in flight, and the messages that come meanwhile together in the next request', async () => {
    const p = heldProducer();
    const publish = groupCommit(p, 'orders.placed');
    const first = publish({ value: 'a' });
    expect(p.requests).toEqual([['a']]); // no waiting for company
    const rest = [publish({ value: 'b' }), publish({ value: 'c' }), publish({ value: 'd' })];
    await tick();
    expect(p.requests).toEqual([['a']]); // one request in flight at a time
    p.finish();
    await first;
    await tick();
    expect(p.requests).toEqual([['a'], ['b', 'c', 'd']]);
    p.finish();
    await Promise.all(rest);
  });

  it('fails every message of a failed request, and the next request still goes', async () => {
    const p = heldProducer();
    const publish = groupCommit(p, 'orders.placed');
    const first = publish({ value: 'a' });
    const batch = [publish({ value: 'b' }), publish({ value: 'c' })];
    p.finish();
    await first;
    await tick();
    p.fail(new Error('not enough replicas'));
    for (const r of await Promise.allSettled(batch)) expect(r).toMatchObject({ status: 'rejected', reason: { message: 'not enough replicas' } });
    const later = publish({ value: 'd' });
    expect(p.requests.at(-1)).toEqual(['d']);
    p.finish();
    await later;
  });

  it('never sends a message whose caller gave up before its request left, and holds a batch to its size', async () => {
    const p = heldProducer();
    const publish = groupCommit(p, 'orders.placed', 2);
    const first = publish({ value: 'a' });
    const gaveUp = new AbortController();
    const abandoned = publish({ value: 'b' }, gaveUp.signal);
    const kept = [publish({ value: 'c' }), publish({ value: 'd' }), publish({ value: 'e' })];
    gaveUp.abort(new Error('timed out'));
    p.finish();
    await first;
    await expect(abandoned).rejects.toThrow('timed out');
    await tick();
    expect(p.requests).toEqual([['a'], ['c']]); // b was dropped from its batch of two
    p.finish();
    await tick();
    expect(p.requests.at(-1)).toEqual(['d', 'e']);
    p.finish();
    await Promise.all(kept);
  });
});
