"""stop/start/restart/kill mid-session: same address afterwards, and the service works."""

from __future__ import annotations

import asyncio
import json

import aetcd
import aio_pika
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from tamarco.harness import wait_until
from tamarco.harness._probes import tcp_open

pytestmark = [pytest.mark.functional, pytest.mark.harness_backends("local", "docker")]

CHEAP = ["etcd", "kafka", "redis", "prometheus", "carbon", "logstash"]


@pytest.mark.parametrize("name", CHEAP)
def test_restart_and_kill_keep_the_address(tamarco_harness, name):
    service = tamarco_harness.get(name)
    address = (service.host, service.port, service.url, dict(service.ports))

    service.restart()
    assert (service.host, service.port, service.url, dict(service.ports)) == address
    assert service.running and service.is_ready()

    service.kill()
    assert not service.running
    assert not tcp_open(service.host, service.ports[service.port_names[0]])
    service.start()
    assert (service.host, service.port, service.url, dict(service.ports)) == address
    assert service.running and service.is_ready()


async def test_etcd_keeps_its_data_over_a_restart(etcd_service, etcd_prefix):
    key = f"{etcd_prefix}durable".encode()
    async with aetcd.Client(host=etcd_service.host, port=etcd_service.port) as client:
        await client.put(key, b"kept")
    await asyncio.to_thread(etcd_service.restart)
    async with aetcd.Client(host=etcd_service.host, port=etcd_service.port) as client:
        result = await client.get(key)
    assert result is not None and result.value == b"kept"


async def test_kafka_producer_works_after_a_broker_restart(kafka_service, kafka_topic):
    await asyncio.to_thread(kafka_service.restart)
    # tansu keeps topics in memory: the restarted broker starts empty.
    await asyncio.to_thread(kafka_service.create_topic, kafka_topic)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_service.bootstrap_servers)
    await producer.start()
    try:
        metadata = await producer.send_and_wait(kafka_topic, b"after-restart")
    finally:
        await producer.stop()
    assert metadata.offset == 0


async def test_amqp_robust_connection_survives_a_broker_kill(rabbitmq_service, unique_name):
    connection = await aio_pika.connect_robust(rabbitmq_service.url, reconnect_interval=0.5)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(unique_name, durable=True)
        await asyncio.to_thread(rabbitmq_service.kill)
        assert not rabbitmq_service.running
        await asyncio.to_thread(rabbitmq_service.start)

        async def publish_after_reconnect() -> None:
            while True:
                try:
                    await channel.default_exchange.publish(aio_pika.Message(b"after-kill"), routing_key=unique_name)
                    return
                except (aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError):
                    await asyncio.sleep(0.2)

        await asyncio.wait_for(publish_after_reconnect(), timeout=30)
        message = await queue.get(timeout=10, fail=False)
        while message is None:
            await asyncio.sleep(0.1)
            message = await queue.get(timeout=10, fail=False)
        await message.ack()
        assert message.body == b"after-kill"
        await queue.delete()


async def test_logstash_keeps_events_and_reads_redis_again_after_redis_dies(
    logstash_service, redis_service, unique_name
):
    logstash_service.send_udp({"test": unique_name, "n": 1})
    await asyncio.to_thread(logstash_service.wait_for_events, lambda e: e.get("test") == unique_name)

    await asyncio.to_thread(redis_service.kill)
    await asyncio.to_thread(redis_service.start)
    await asyncio.to_thread(logstash_service.restart)

    client = aioredis.Redis.from_url(redis_service.url)
    try:
        await client.rpush(logstash_service.redis_key, json.dumps({"test": unique_name, "n": 2}))
    finally:
        await client.aclose()
    events = await asyncio.to_thread(logstash_service.wait_for_events, lambda e: e.get("test") == unique_name, 10, 2)
    assert sorted(event["n"] for event in events) == [1, 2]
    # Nothing stays queued in Redis: the collector drained the list.
    wait_until(lambda: redis_service.command("LLEN", logstash_service.redis_key).startswith(b":0"), 5)


def test_a_service_left_stopped_by_a_test(redis_service):
    redis_service.stop()  # as a failing fault-injection test might leave it


def test_is_running_again_for_the_next_test(redis_service):
    assert redis_service.running and redis_service.is_ready()
