"""What a downstream project's functional tests look like with the harness fixtures."""

from __future__ import annotations

import os

import aetcd
import redis.asyncio as aioredis


async def test_settings_from_etcd(service_env, etcd_service):
    host, port = os.environ["TAMARCO_ETCD_HOST"], int(os.environ["TAMARCO_ETCD_PORT"])
    key = os.environ["MY_SERVICE_ETCD_PREFIX"] + "system/deploy_name"
    async with aetcd.Client(host=host, port=port) as client:
        await client.put(key.encode(), b'"staging"')
    # The harness's own helpers read the same etcd.
    assert etcd_service.get(key) == '"staging"'


async def test_cache_in_redis(service_env, unique_name):
    client = aioredis.Redis.from_url(os.environ["TAMARCO_REDIS_URL"])
    try:
        await client.set(unique_name, "cached")
        assert await client.get(unique_name) == b"cached"
    finally:
        await client.aclose()


def test_prometheus_sees_the_service(prometheus_service, free_port):
    prometheus_service.add_target("127.0.0.1", free_port)
    assert prometheus_service.is_ready()
