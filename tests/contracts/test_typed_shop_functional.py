"""The typed shop example (examples/typed_shop) on the harness RabbitMQ and Kafka.

A valid message reaches the typed handler as the model; an invalid one is in the dead-letter
queue/topic within a second, with its validation errors in the headers, and was never retried;
the AsyncAPI and OpenAPI documents served by the running service are the ones ``tamarco asyncapi``
and ``tamarco openapi`` print, and pass the official schemas.
"""

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from tamarco.harness import KafkaService, RabbitMQService, ServiceProcess

pytestmark = pytest.mark.functional

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "typed_shop" / "microservice.py"
VALID = {"id": 1, "customer": "alice", "items": [{"sku": "apple", "quantity": 2}]}
INVALID = {"id": "one", "items": [{"sku": "", "quantity": 0}], "card_password": "hunter2-secret"}
EXPECTED_ERRORS = ["id", "customer", "items.0.sku", "items.0.quantity"]


def http_get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read().decode()


def cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tamarco.cli.main", *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def shop(rabbitmq_service: RabbitMQService, kafka_service: KafkaService, tmp_path: Path) -> Any:
    prefix = f"typed-{uuid.uuid4().hex[:8]}."
    for topic in ("orders", "orders.dlq", "prices", "prices.dlq", "quotes"):
        kafka_service.create_topic(topic)
    settings = tmp_path / "settings.yml"
    settings.write_text(
        yaml.safe_dump(
            {
                "system": {
                    "logging": {"profile": "DEVELOP"},
                    "resources": {
                        "amqp": {"url": rabbitmq_service.url, "queues_prefix": prefix},
                        "kafka": {"bootstrap_servers": kafka_service.bootstrap_servers},
                        "http_server": {"port": 0},
                        "tamarco_http_report_server": {"port": 0},
                    },
                }
            }
        )
    )
    service = ServiceProcess(SCRIPT, env={"TAMARCO_YML_FILE": str(settings)}).start()
    try:
        service.wait_for("lifecycle: running", timeout=60)
        yield service, prefix, settings
    finally:
        code = service.terminate()
        assert code == 0, service.output[-4000:]


async def amqp_dead_letter(rabbitmq_service: RabbitMQService, prefix: str) -> tuple[dict[str, Any], float]:
    """Push VALID and INVALID to the orders queue; the dead letter and how long it took."""
    connection = await aio_pika.connect(rabbitmq_service.url)
    async with connection:
        channel = await connection.channel()
        dead_queue = await channel.declare_queue(f"{prefix}orders.dead", durable=True)
        for body in (VALID, INVALID):
            message = aio_pika.Message(json.dumps(body).encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await channel.default_exchange.publish(message, routing_key=f"{prefix}orders")
        sent = time.monotonic()
        while True:
            dead = await dead_queue.get(no_ack=True, fail=False)
            if dead is not None:
                return dict(dead.headers), time.monotonic() - sent
            assert time.monotonic() - sent < 10, "no dead letter in the orders.dead queue"
            await asyncio.sleep(0.02)


async def kafka_dead_letter(bootstrap_servers: str, marker: str) -> tuple[dict[str, bytes], float]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    consumer = AIOKafkaConsumer(
        "orders.dlq",
        bootstrap_servers=bootstrap_servers,
        group_id=f"dlq-reader-{marker}",
        auto_offset_reset="earliest",
    )
    await producer.start()
    await consumer.start()
    try:
        await producer.send_and_wait("orders", json.dumps({**VALID, "id": 2, "customer": marker}).encode())
        await producer.send_and_wait("orders", json.dumps({**INVALID, "marker": marker}).encode())
        # the async-for form: KafkaInput[PriceChanged] consumed in a task yields the dataclass
        await producer.send_and_wait("prices", json.dumps({"sku": marker, "price": 2.5}).encode())
        sent = time.monotonic()
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    if marker.encode() in record.value:
                        return {key: value for key, value in record.headers}, time.monotonic() - sent
            assert time.monotonic() - sent < 15, "no dead letter in the orders.dlq topic"
    finally:
        await consumer.stop()
        await producer.stop()


async def test_valid_messages_reach_typed_handlers_and_invalid_ones_are_dead_lettered_at_once(
    shop: Any, rabbitmq_service: RabbitMQService, kafka_service: KafkaService
) -> None:
    service, prefix, _ = shop
    headers, elapsed = await amqp_dead_letter(rabbitmq_service, prefix)
    service.wait_for(r"order 1 from alice: Order$")  # the handler got the model
    errors = json.loads(headers["x-tamarco-validation-errors"])
    assert [error["loc"] for error in errors] == EXPECTED_ERRORS
    assert headers["x-tamarco-error-type"] == "PayloadValidationError"
    assert headers["x-tamarco-attempts"] == 1
    assert "hunter2-secret" not in json.dumps(headers, default=str)
    assert elapsed < 1.0, f"dead-lettered after {elapsed:.2f} s"

    marker = uuid.uuid4().hex
    kafka_headers, kafka_elapsed = await kafka_dead_letter(kafka_service.bootstrap_servers, marker)
    service.wait_for(rf"kafka order 2 from {marker}: Order$")
    service.wait_for(rf"price of {marker} is now 2.5: PriceChanged$")
    kafka_errors = json.loads(kafka_headers["x-tamarco-validation-errors"])
    assert [error["loc"] for error in kafka_errors] == EXPECTED_ERRORS
    assert kafka_headers["x-tamarco-attempts"] == b"1"
    assert kafka_elapsed < 1.0, f"dead-lettered after {kafka_elapsed:.2f} s"

    assert service.count(r"is invalid \(") == 2  # one WARNING per invalid message
    assert service.count("retrying") == 0  # never retried
    report = service.wait_for(r"report server listening on (http://\S+)").group(1)
    resources = json.loads(http_get(f"{report}/status")[2])["resources"]
    assert resources["amqp"]["inputs"]["orders"]["invalid"] == 1
    assert resources["kafka"]["inputs"]["orders"]["invalid"] == 1
    metrics = http_get(f"{report}/metrics")[2]
    counted = [
        line
        for line in metrics.splitlines()
        if line.startswith("shop_messages_invalid_total{") and 'input="orders"' in line
    ]
    assert len(counted) == 2 and all(line.endswith((" 1", " 1.0")) for line in counted), counted


async def test_served_documents_are_the_cli_documents_and_valid(shop: Any, contracts: Any) -> None:
    service, prefix, settings = shop
    report = service.wait_for(r"report server listening on (http://\S+)").group(1)
    http = service.wait_for(r"HTTP server http_server listening on (http://\S+)").group(1)
    status, media, served_json = http_get(f"{report}/asyncapi.json")
    assert status == 200 and media.startswith("application/json")
    served = json.loads(served_json)
    printed = json.loads(cli("asyncapi", f"{SCRIPT}:Shop", "--settings", str(settings)))
    assert served == printed
    contracts.assert_valid(contracts.asyncapi_validator(), served)
    assert served["channels"]["amqp.orders.pull"]["address"] == f"{prefix}orders"
    assert "guest" not in served_json  # the URL's credentials are not in the servers
    _, _, served_yaml = http_get(f"{report}/asyncapi.yaml")
    assert yaml.safe_load(served_yaml) == yaml.safe_load(
        cli("asyncapi", f"{SCRIPT}:Shop", "--settings", str(settings), "--format", "yaml")
    )
    _, media, page = http_get(f"{report}/asyncapi")
    assert media.startswith("text/html") and f"{prefix}orders" in page and "<script" not in page

    _, _, served_openapi = http_get(f"{http}/openapi.json")
    assert json.loads(served_openapi) == json.loads(cli("openapi", f"{SCRIPT}:Shop", "--settings", str(settings)))
    contracts.assert_valid(contracts.openapi_validator(), json.loads(served_openapi))
    _, media, docs = http_get(f"{http}/docs")
    assert media.startswith("text/html") and "/prices/{sku}" in docs
