import { createServer, type AddressInfo } from 'node:net';

/** A loopback port that was free a moment ago and that nothing listens on: a service that is down. */
export const closedPort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
