// A small Express 5 service on nearcache in TypeScript (ES modules); the compat runner starts it
// twice on one topic (PORT, TOPIC, KAFKA_BROKERS, REPLICATION: inline or worker) and drives it over HTTP.
import express from 'express';
import { createNearCache } from '@nearcache/core';
import { cacheResponses, invalidateRoute } from '@nearcache/express';

const cache = createNearCache<string | object>({
  topic: process.env.TOPIC!,
  kafka: { brokers: process.env.KAFKA_BROKERS!.split(',') },
  replication: process.env.REPLICATION === 'worker' ? 'worker' : 'inline',
  ttl: 60_000,
});
await cache.ready();

const app = express();
let runs = 0;
app.get('/page/:id', cacheResponses(cache), (req, res) => {
  runs += 1;
  res.json({ page: req.params.id, by: process.pid, runs });
});
app.delete('/page/:id', async (req, res) => {
  await invalidateRoute(cache, `/page/${req.params.id}`);
  res.json({ evicted: req.params.id });
});
// Entries this process holds: how the runner waits for a write of the other process to arrive.
app.get('/size', (_req, res) => {
  res.json({ size: cache.size });
});
app.put('/value/:key', async (req, res) => {
  await cache.set(req.params.key, String(req.query.v));
  res.json({ key: req.params.key, v: req.query.v });
});
app.get('/value/:key', (req, res) => {
  const v = cache.get(req.params.key);
  if (v === undefined) res.status(404).json({ message: `no value ${req.params.key}` });
  else res.json({ key: req.params.key, v });
});
app.delete('/value/:key', async (req, res) => {
  await cache.delete(req.params.key);
  res.json({ deleted: req.params.key });
});

const port = Number(process.env.PORT);
const server = app.listen(port, '127.0.0.1', () => console.log(`ready ${port}`));
process.once('SIGTERM', () => {
  server.close();
  cache.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
