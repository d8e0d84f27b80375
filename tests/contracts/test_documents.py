"""AsyncAPI 3.0 and OpenAPI 3.1 documents of services using every AMQP and Kafka pattern,
checked against the official JSON Schemas (vendored in schemas/, see its README), generated
without starting anything; and ``tamarco asyncapi/openapi`` printing the same documents."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pydantic
import pytest
import yaml
from sanic.response import text
from tamarco.codecs import YamlCodec
from tamarco.core.contracts import (
    asyncapi_document,
    asyncapi_html,
    openapi_document,
    openapi_html,
    service_with_settings,
)
from tamarco.core.messaging import InMemoryTransport
from tamarco.core.microservice import Microservice, MicroserviceContext
from tamarco.resources.io.amqp import (
    AMQPGenericOutput,
    AMQPOutput,
    AMQPPullInput,
    AMQPRequestInput,
    AMQPResource,
    AMQPSubscriptionInput,
)
from tamarco.resources.io.http.resource import HTTPServerResource
from tamarco.resources.io.kafka import KafkaInput, KafkaOutput, KafkaResource
from typing_extensions import TypedDict

ROOT = Path(__file__).resolve().parents[2]
SHOP = f"{ROOT / 'examples' / 'typed_shop' / 'microservice.py'}:Shop"
SETTINGS = {
    "system": {
        "resources": {
            "amqp": {"host": "rabbit.internal", "port": 5671, "tls": True, "vhost": "shop", "user": "bob"},
            "kafka": {"bootstrap_servers": "k1:9092,k2:9092"},
            "http_server": {"port": 0},
        }
    }
}
SECRET = "pa55-w0rd-never-shown"


class Customer(pydantic.BaseModel):
    name: str
    password: str


class Invoice(pydantic.BaseModel):
    """An invoice."""

    number: int
    customer: Customer


@dataclasses.dataclass
class Reading:
    sensor: str
    value: float


class Label(TypedDict):
    text: str


class Tick(msgspec.Struct):
    symbol: str
    price: float


class Everything(Microservice):
    """Every pattern of AMQP and Kafka, typed and untyped."""

    name = "everything"
    version = "2.1.0"

    readings = KafkaInput[Reading](topics=["readings.a", "readings.b"], group_id="analytics")
    amqp = AMQPResource(outputs=[AMQPOutput[Invoice]("invoices"), AMQPGenericOutput(), AMQPOutput("raw")])
    kafka = KafkaResource(
        inputs=[readings, KafkaInput(topic_pattern=r"audit\..*")],
        outputs=[KafkaOutput[Tick]("ticks"), KafkaOutput("free", codec=YamlCodec)],
    )

    def __init__(self) -> None:
        super().__init__(environ={})
        self.settings.update_internal(
            {
                "system": {
                    "resources": {
                        "amqp": {"queues_prefix": "prod.", "password": SECRET},
                        "kafka": {
                            "bootstrap_servers": "broker:9093",
                            "security_protocol": "SASL_PLAINTEXT",
                            "sasl": {"username": "kafka-user", "password": SECRET},
                        },
                    }
                }
            }
        )

    @AMQPPullInput(resource=amqp, queue="invoices")
    async def on_invoice(self, invoice: Invoice) -> None: ...

    @AMQPSubscriptionInput(resource=amqp, queue="labels")
    async def on_label(self, label: Label) -> None: ...

    @AMQPRequestInput(resource=amqp, queue="lookups", codec=YamlCodec)
    async def lookup(self, customer: Customer, response_handler: Any) -> Invoice:
        return Invoice(number=1, customer=customer)

    @AMQPRequestInput(resource=amqp, queue="echo")
    async def echo(self, message, response_handler):  # type: ignore[no-untyped-def]
        return message

    @KafkaInput(resource=kafka, topic="ticks", group_id="tickers")
    async def on_tick(self, tick: Tick) -> None: ...


async def everything_document() -> dict[str, Any]:
    return asyncapi_document(await service_with_settings(Everything))


async def test_every_pattern_is_valid_asyncapi_3(contracts: Any) -> None:
    document = await everything_document()
    contracts.assert_valid(contracts.asyncapi_validator(), document)
    assert document["info"] == {
        "title": "everything",
        "version": "2.1.0",
        "description": "Every pattern of AMQP and Kafka, typed and untyped.",
    }
    text = json.dumps(document)
    assert SECRET not in text and "kafka-user" not in text and "guest" not in text


async def test_addresses_are_the_real_broker_names_under_the_prefix() -> None:
    channels = (await everything_document())["channels"]
    addresses = {key: channel["address"] for key, channel in channels.items()}
    assert addresses["amqp.invoices.pull"] == "prod.invoices"
    assert channels["amqp.invoices.pull"]["bindings"]["amqp"]["queue"]["name"] == "prod.invoices"
    assert addresses["amqp.labels.subscribe"] == "prod.labels"
    assert channels["amqp.labels.subscribe"]["bindings"]["amqp"]["exchange"]["type"] == "fanout"
    assert addresses["amqp.lookups.request"] == "prod.lookups.request"
    assert addresses["amqp.lookups.request.reply"] is None
    assert addresses["amqp.invoices.push"] == "prod.invoices"
    assert addresses["amqp.invoices.publish"] == "prod.invoices"
    assert addresses["amqp.invoices.request"] == "prod.invoices.request"
    assert addresses["kafka.readings.a_readings.b.readings.a"] == "readings.a"
    assert addresses["kafka.readings.a_readings.b.readings.b"] == "readings.b"
    assert addresses["kafka.audit_.._.pattern"] == r"audit\..*"
    assert addresses["kafka.ticks.send"] == "ticks"
    assert channels["kafka.ticks.receive"]["bindings"]["kafka"] == {"topic": "ticks", "bindingVersion": "0.5.0"}


async def test_operations_messages_and_schemas() -> None:
    document = await everything_document()
    operations = document["operations"]
    assert operations["receive.amqp.invoices.pull"]["action"] == "receive"
    assert operations["receive.amqp.invoices.pull"]["x-tamarco-dead-letter"] == "prod.invoices.dead"
    assert operations["send.kafka.ticks.send"]["action"] == "send"
    assert operations["receive.kafka.ticks.receive"]["bindings"]["kafka"]["groupId"] == {
        "type": "string",
        "enum": ["tickers"],
    }
    assert operations["receive.kafka.readings.a_readings.b.readings.a"]["bindings"]["kafka"]["groupId"]["enum"] == [
        "analytics"
    ]
    lookup = operations["receive.amqp.lookups.request"]
    assert lookup["reply"]["address"] == {"location": "$message.header#/reply_to"}
    messages = document["components"]["messages"]
    request_message = messages[lookup["messages"][0]["$ref"].rsplit("/", 1)[-1]]
    assert request_message["contentType"] == "application/yaml"
    assert request_message["payload"] == {"$ref": "#/components/schemas/Customer"}
    reply_ref = document["channels"]["amqp.lookups.request.reply"]["messages"]
    assert [messages[ref["$ref"].rsplit("/", 1)[-1]]["payload"] for ref in reply_ref.values()] == [
        {"$ref": "#/components/schemas/Invoice"}
    ]
    echo = document["channels"]["amqp.echo.request"]["messages"]
    assert all("payload" not in messages[ref["$ref"].rsplit("/", 1)[-1]] for ref in echo.values())  # untyped
    schemas = document["components"]["schemas"]
    assert schemas["Invoice"]["properties"]["customer"] == {"$ref": "#/components/schemas/Customer"}
    assert set(schemas) >= {"Invoice", "Customer", "Reading", "Label", "Tick"}


async def test_servers_come_from_the_settings_without_credentials() -> None:
    servers = (await everything_document())["servers"]
    assert servers["amqp"]["host"] == "127.0.0.1:5672" and servers["amqp"]["protocol"] == "amqp"
    assert servers["kafka"] == {
        "host": "broker:9093",
        "protocol": "kafka-secure",
        "description": "Kafka bootstrap server of resource kafka (SASL_PLAINTEXT)",
    }


def test_the_html_page_works_offline() -> None:
    page = asyncapi_html({"asyncapi": "3.0.0", "info": {"title": "<x>", "version": "1"}, "operations": {}})
    assert "&lt;x&gt;" in page and "<script" not in page and "http" not in page.split("</style>")[0]
    assert "<script" not in openapi_html({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}})


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tamarco.cli.main", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


async def test_the_cli_prints_the_same_documents(tmp_path: Path, contracts: Any) -> None:
    settings = tmp_path / "settings.yml"
    settings.write_text(yaml.safe_dump(SETTINGS))
    json_run = run_cli("asyncapi", SHOP, "--settings", str(settings), cwd=tmp_path)
    assert json_run.returncode == 0, json_run.stderr
    printed = json.loads(json_run.stdout)
    contracts.assert_valid(contracts.asyncapi_validator(), printed)
    yaml_run = run_cli(
        "asyncapi", SHOP, "--settings", str(settings), "--format", "yaml", "-o", "doc.yaml", cwd=tmp_path
    )
    assert yaml_run.returncode == 0, yaml_run.stderr
    assert yaml.safe_load((tmp_path / "doc.yaml").read_text()) == printed
    assert printed["servers"]["amqp"] == {
        "host": "rabbit.internal:5671",
        "protocol": "amqps",
        "protocolVersion": "0.9.1",
        "pathname": "/shop",
        "description": "RabbitMQ of resource amqp (queues_prefix '')",
    }
    assert "bob" not in json_run.stdout
    openapi_run = run_cli("openapi", SHOP, "--settings", str(settings), cwd=tmp_path)
    assert openapi_run.returncode == 0, openapi_run.stderr
    openapi = json.loads(openapi_run.stdout)
    contracts.assert_valid(contracts.openapi_validator(), openapi)
    assert openapi["paths"]["/prices/{sku}"]["get"]["parameters"][0]["name"] == "sku"


def test_the_cli_names_what_is_wrong(tmp_path: Path) -> None:
    missing = run_cli("asyncapi", "no_such_module:Service", cwd=tmp_path)
    assert missing.returncode == 1 and "no module 'no_such_module'" in missing.stderr
    not_a_class = run_cli("asyncapi", f"{ROOT / 'examples' / 'typed_shop' / 'microservice.py'}:Nope", cwd=tmp_path)
    assert not_a_class.returncode == 1 and "has no class 'Nope'" in not_a_class.stderr
    no_settings = run_cli("asyncapi", SHOP, "--settings", "absent.yml", cwd=tmp_path)
    assert no_settings.returncode == 1 and "settings file 'absent.yml' does not exist" in no_settings.stderr


class Api(Microservice):
    name = "api"
    http_server = HTTPServerResource()


@Api.http_server.app.route("/invoices/<number:int>", methods=["GET", "PUT"])
async def invoice(request: Any, number: int, body: Invoice) -> Invoice:
    """An invoice by number.

    PUT replaces it."""
    raise NotImplementedError


async def test_typed_http_handlers_have_request_and_response_schemas(contracts: Any) -> None:
    document = openapi_document(await service_with_settings(Api))
    contracts.assert_valid(contracts.openapi_validator(), document)
    put = document["paths"]["/invoices/{number}"]["put"]
    assert put["parameters"] == [{"name": "number", "in": "path", "required": True, "schema": {"type": "integer"}}]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Invoice"}
    assert put["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Invoice"}
    assert "requestBody" not in document["paths"]["/invoices/{number}"]["get"]
    assert put["summary"] == "An invoice by number."
    assert set(document["components"]["schemas"]) == {"Invoice", "Customer"}


@pytest.mark.parametrize("command", ["asyncapi", "openapi"])
def test_cli_help(command: str, tmp_path: Path) -> None:
    shown = run_cli(command, "--help", cwd=tmp_path)
    assert shown.returncode == 0 and "module:ServiceClass" in shown.stdout


class Served(MicroserviceContext):
    name = "served"
    use_default_resources = True
    http_server = HTTPServerResource()
    amqp = AMQPResource(outputs=[AMQPOutput[Invoice]("invoices")])


@Served.http_server.app.route("/ping")
async def ping(request: Any) -> Any:
    return text("pong")


@Served.http_server.app.route("/invoices/<number:int>", methods=["PUT"])
async def put_invoice(request: Any, number: int, customer: Customer) -> Invoice:
    return Invoice(number=number, customer=customer)


async def fetch(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.request(method, url, data=data) as response:
        return response.status, await response.text()


@pytest.mark.functional
@pytest.mark.parametrize("enabled", [False, True])  # the app's second start switches them on
async def test_the_documents_are_served_unless_switched_off(enabled: bool) -> None:
    service = Served(environ={})
    service.settings.update_internal(
        {
            "system": {
                "resources": {
                    "http_server": {"port": 0, "openapi": enabled},
                    "tamarco_http_report_server": {"port": 0, "asyncapi": enabled},
                    "amqp": {"connection_timeout": 0.2},
                }
            }
        }
    )
    service.amqp.use_transport(InMemoryTransport())
    async with service:
        report = service.resources["tamarco_http_report_server"].url
        http = service.http_server.url
        statuses = {
            path: (await fetch(base + path))[0]
            for base, paths in (
                (report, ("/asyncapi.json", "/asyncapi.yaml", "/asyncapi")),
                (http, ("/openapi.json", "/docs")),
            )
            for path in paths
        }
        assert (await fetch(f"{http}/ping")) == (200, "pong")
        typed = await fetch(f"{http}/invoices/3", "PUT", b'{"name": "ann", "password": "pw"}')
        invalid = await fetch(f"{http}/invoices/3", "PUT", b'{"name": 5, "password": "s3cret-value"}')
        not_json = await fetch(f"{http}/invoices/3", "PUT", b"{oops")
    assert typed == (200, '{"number":3,"customer":{"name":"ann","password":"pw"}}')
    assert invalid[0] == 422 and json.loads(invalid[1])["errors"][0]["loc"] == "name"
    assert "s3cret-value" not in invalid[1]
    assert not_json[0] == 400
    assert statuses == dict.fromkeys(statuses, 200 if enabled else 404)
