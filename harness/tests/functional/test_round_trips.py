"""One real round trip through every service, with the clients Tamarco uses."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import aetcd
import aio_pika
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

pytestmark = [pytest.mark.functional, pytest.mark.harness_backends("local", "docker")]


async def test_etcd_put_and_get(etcd_service, etcd_prefix):
    async with aetcd.Client(host=etcd_service.host, port=etcd_service.port) as client:
        await client.put(f"{etcd_prefix}greeting".encode(), b"hello")
        result = await client.get(f"{etcd_prefix}greeting".encode())
    assert result is not None and result.value == b"hello"
    assert etcd_service.get(f"{etcd_prefix}greeting") == "hello"
    assert etcd_service.get_bytes(f"{etcd_prefix}greeting") == b"hello"


def test_etcd_put_and_get_agree_on_text(etcd_service, etcd_prefix):
    """What put() takes, get() gives back: text in, text out (issue 24); bytes through get_bytes()."""
    etcd_service.put(f"{etcd_prefix}text/name", "Ada")
    etcd_service.put(f"{etcd_prefix}raw", b"\xff\x00")
    assert etcd_service.get(f"{etcd_prefix}text/name") == "Ada"
    assert etcd_service.get_prefix(f"{etcd_prefix}text/") == {f"{etcd_prefix}text/name": "Ada"}
    assert etcd_service.get_bytes(f"{etcd_prefix}raw") == b"\xff\x00"
    assert etcd_service.get(f"{etcd_prefix}missing") is None


def test_etcd_prefix_is_emptied_after_the_test(etcd_service, request):
    # The previous test's prefix is gone: nothing is left under the harness's root.
    leftovers = [key for key in etcd_service.get_prefix("/tamarco-harness/") if "greeting" in key]
    assert leftovers == []


async def test_amqp_publish_and_consume(rabbitmq_service, rabbitmq_vhost, unique_name):
    connection = await aio_pika.connect_robust(rabbitmq_service.vhost_url(rabbitmq_vhost))
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(unique_name, auto_delete=True)
        await channel.default_exchange.publish(aio_pika.Message(b"ping"), routing_key=unique_name)
        async with queue.iterator(timeout=10) as messages:
            async for message in messages:
                async with message.process():
                    assert message.body == b"ping"
                break


async def test_kafka_produce_and_consume_in_a_group(kafka_service, kafka_topic, unique_name):
    producer = AIOKafkaProducer(bootstrap_servers=kafka_service.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(kafka_topic, b"event-1")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        kafka_topic,
        bootstrap_servers=kafka_service.bootstrap_servers,
        group_id=unique_name,
        auto_offset_reset="earliest",
        session_timeout_ms=1000,
        heartbeat_interval_ms=200,
        rebalance_timeout_ms=1000,
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=20)
        await consumer.commit()
    finally:
        await consumer.stop()
    assert message.value == b"event-1"


async def test_redis_pubsub(redis_service, unique_name):
    client = aioredis.Redis.from_url(redis_service.url)
    try:
        pubsub = client.pubsub()
        await pubsub.subscribe(unique_name)
        await client.publish(unique_name, b"hello")
        deadline = time.monotonic() + 10
        message = None
        while message is None and time.monotonic() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
        await pubsub.aclose()
    finally:
        await client.aclose()
    assert message is not None and message["data"] == b"hello"


async def test_prometheus_scrapes_a_target_and_the_value_is_queried_back(prometheus_service, free_port, unique_name):
    metric = unique_name.replace("-", "_").replace(".", "_")

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=f"# TYPE {metric} gauge\n{metric} 42\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", free_port).start()
    try:
        instance = prometheus_service.add_target("127.0.0.1", free_port)
        result = await asyncio.to_thread(prometheus_service.wait_for_query, f'{metric}{{instance="{instance}"}}', 20)
    finally:
        prometheus_service.remove_target("127.0.0.1", free_port)
        await runner.cleanup()
    assert float(result[0]["value"][1]) == 42.0
    assert result[0]["metric"]["job"] == "harness"


async def test_carbon_receives_a_plaintext_metric(carbon_service, unique_name):
    path = f"harness.tests.{unique_name.replace('.', '_')}"
    now = int(time.time())
    _, writer = await asyncio.open_connection(carbon_service.host, carbon_service.port)
    writer.write(f"{path} 12.5 {now}\n".encode())
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    points = await asyncio.to_thread(carbon_service.wait_for_metric, path, 10)
    # Locally one point per second; graphite's docker image rounds timestamps to 10 s.
    assert [value for timestamp, value in points if abs(timestamp - now) < 60] == [12.5]


async def test_logstash_receives_an_event_over_each_input(logstash_service, redis_service, unique_name):
    def mine(event):
        return event.get("test") == unique_name

    # UDP JSON datagram.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(json.dumps({"test": unique_name, "n": 1}).encode(), (logstash_service.host, logstash_service.port))
    # HTTP POST of a JSON list (a batch, as Tamarco's HTTP handler sends).
    logstash_service.send_http([{"test": unique_name, "n": 2}, {"test": unique_name, "n": 3}])
    # Redis list and Redis channel.
    client = aioredis.Redis.from_url(redis_service.url)
    try:
        await client.rpush(logstash_service.redis_key, json.dumps({"test": unique_name, "n": 4}))
        subscribers = 0
        deadline = time.monotonic() + 10
        while subscribers == 0 and time.monotonic() < deadline:
            subscribers = await client.publish(
                logstash_service.redis_channel, json.dumps({"test": unique_name, "n": 5})
            )
            if subscribers == 0:
                await asyncio.sleep(0.1)
    finally:
        await client.aclose()
    events = await asyncio.to_thread(logstash_service.wait_for_events, mine, 10, 5)
    by_input = {event["n"]: event["harness_input"] for event in events}
    assert by_input == {1: "udp", 2: "http", 3: "http", 4: "redis_list", 5: "redis_channel"}
