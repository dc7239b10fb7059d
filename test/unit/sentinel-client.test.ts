// ioredis's Sentinel client, ended for good when a failover notice interrupts its reconnect, and ours, which connects
// again. The interruption is what ioredis's failoverDetector does on +switch-master: it disconnects the connector.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { SentinelClient } from '@faultline/common';
import { closedPort } from '../support/ports.ts';

it('a Sentinel client whose reconnect a failover notice cut short connects again; plain ioredis stays ended', async () => {
  const options = { sentinels: [{ host: '127.0.0.1', port: await closedPort() }], name: 'faultline', enableOfflineQueue: false, sentinelRetryStrategy: () => 100, retryStrategy: () => 100 };
  const interrupt = (client: Redis) => (client as unknown as { connector: { disconnect(): void } }).connector.disconnect();
  const plain = new Redis(options).on('error', () => undefined);
  const ours = new SentinelClient(options).on('error', () => undefined);
  interrupt(plain);
  interrupt(ours);
  await sleep(800);
  expect(plain.status).toBe('end');
  expect(ours.status).not.toBe('end');
  // Closed on purpose, it stays closed.
  ours.disconnect();
  plain.disconnect();
  await sleep(600);
  expect(ours.status).toBe('end');
});
