import { it, expect } from 'vitest';
import { createNearCache } from '@nearcache/core';
it('x', async () => {
  const c = createNearCache({ topic: 'wk-smoke-' + Date.now(), kafka: { brokers: ['127.0.0.1:29092'], logLevel: 'nothing' }, replication: 'worker', logger: console });
  c.on('error', (e) => console.log('error event', e.code, e.message));
  await c.ready();
  await c.set('a', { x: 1 }, { durable: true });
  expect(c.get('a')).toEqual({ x: 1 });
  await c.close();
});
