"""A tiny Python service sharing a nearcache topic through the sidecar, with redis-py."""
import os
import time

import redis

cache = redis.Redis(
    host=os.environ.get("CACHE_HOST", "sidecar"),
    port=int(os.environ.get("CACHE_PORT", "6379")),
    password=os.environ.get("CACHE_PASSWORD"),
    decode_responses=True,
)

n = 0
while True:
    n += 1
    cache.set("python:heartbeat", f"beat {n}", ex=60)
    # Written by any service on the topic: a Node.js service with codec: jsonCodec(), another sidecar...
    print("python:heartbeat =", cache.get("python:heartbeat"), "| ttl", cache.ttl("python:heartbeat"), flush=True)
    time.sleep(2)
