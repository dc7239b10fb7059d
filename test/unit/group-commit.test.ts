import { describe, expect, it } from 'vitest';
import { Partitioners, type Message } from 'kafkajs';
import { groupCommit } from '../../services/orders/src/group-commit.ts';

/** A producer whose sends finish when the test says, recording each request's messages and partitions. */
function heldProducer() {
  const requests: string[][] = [];
  const partitionsOf: number[][] = [];
  const pending: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  return {
    requests,
    partitionsOf,
    send: ({ messages }: { messages: Message[] }) => {
      requests.push(messages.map((m) => String(m.value)));
      partitionsOf.push([...new Set(messages.map((m) => m.partition!))]);
      return new Promise<never[]>((resolve, reject) => pending.push({ resolve: () => resolve([]), reject }));
    },
    finish: () => pending.shift()!.resolve(),
    fail: (err: Error) => pending.shift()!.reject(err),
  };
}
const tick = () => new Promise((r) => setTimeout(r, 5));
const onePartition = { partitions: async () => 1, retryMs: 1 };

describe('group commit to the order log', () => {
  it('sends a message at once when nothing is in flight, and the messages that come meanwhile together in the next request', async () => {
    const p = heldProducer();
    const publish = groupCommit(p, 'orders.placed', onePartition);
    const first = publish({ value: 'a' });
    await tick();
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

  it("puts each message in its key's partition, as kafkajs would, a line and a request per partition", async () => {
    const p = heldProducer();
    const publish = groupCommit(p, 'orders.placed', { partitions: async () => 6 });
    const keys = ['ord_1', 'ord_2', 'ord_3', 'ord_4', 'ord_5', 'ord_6', 'ord_7', 'ord_8'];
    const kafkajs = Partitioners.DefaultPartitioner();
    const metadata = Array.from({ length: 6 }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [], isr: [], partitionErrorCode: 0 }));
    const expected = keys.map((key) => kafkajs({ topic: 'orders.placed', partitionMetadata: metadata, message: { key, value: key } }));
    const sent = keys.map((key) => publish({ key, value: key }));
    await tick();
    expect(p.requests.length).toBe(new Set(expected).size); // a held partition does not hold another
    for (let done = 0; done < p.requests.length; done++) {
      p.finish();
      await tick();
    }
    expect(p.partitionsOf.every((ps) => ps.length === 1)).toBe(true); // no request spans partitions
    for (const [i, request] of p.requests.entries()) for (const key of request) expect(p.partitionsOf[i]![0]).toBe(expected[keys.indexOf(key)]);
    expect(p.requests.flat().sort()).toEqual([...keys].sort());
    await Promise.all(sent);
  });

  it('sends a failed request again, the same messages alone, until it is written, telling its callers at once; the next waits', async () => {
    const p = heldProducer();
    const retries: number[] = [];
    const publish = groupCommit(p, 'orders.placed', { ...onePartition, onRetry: (_partition, attempt) => retries.push(attempt) });
    const first = publish({ value: 'a' });
    await tick();
    const later = publish({ value: 'b' });
    p.fail(new Error('Connection error: read ECONNRESET'));
    await expect(first).rejects.toThrow('Connection error: read ECONNRESET');
    await tick();
    expect(p.requests).toEqual([['a'], ['a']]); // not ['a', 'b'] under the sequence numbers of the first
    p.fail(new Error('This server is not the leader for that topic-partition'));
    await tick();
    p.finish();
    await tick();
    expect(p.requests).toEqual([['a'], ['a'], ['a'], ['b']]);
    expect(retries).toEqual([1, 2]);
    p.finish();
    await later;
  });

  it('never sends a message whose caller gave up before its request left, lets it go at once, and holds a batch to its size', async () => {
    const p = heldProducer();
    const publish = groupCommit(p, 'orders.placed', { ...onePartition, maxBatch: 2 });
    const first = publish({ value: 'a' });
    await tick();
    const gaveUp = new AbortController();
    const abandoned = publish({ value: 'b' }, gaveUp.signal);
    const kept = [publish({ value: 'c' }), publish({ value: 'd' }), publish({ value: 'e' })];
    await tick();
    gaveUp.abort(new Error('timed out'));
    await expect(abandoned).rejects.toThrow('timed out'); // while a is still in flight
    await expect(publish({ value: 'f' }, gaveUp.signal)).rejects.toThrow('timed out');
    p.finish();
    await first;
    await tick();
    expect(p.requests).toEqual([['a'], ['c', 'd']]); // b left the line, f never joined it
    p.finish();
    await tick();
    expect(p.requests.at(-1)).toEqual(['e']);
    p.finish();
    await Promise.all(kept);
  });

  it('refuses a message while the partitions cannot be read, and reads them again next time', async () => {
    const p = heldProducer();
    let reads = 0;
    const publish = groupCommit(p, 'orders.placed', { partitions: async () => (++reads === 1 ? Promise.reject(new Error('no metadata')) : 1) });
    await expect(publish({ value: 'a' })).rejects.toThrow('no metadata');
    const second = publish({ value: 'b' });
    await tick();
    p.finish();
    await second;
    expect(reads).toBe(2);
  });
});
