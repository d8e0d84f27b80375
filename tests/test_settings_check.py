"""A service whose AMQP and Kafka resources both have wrong settings fails its start with one
error naming both, and connects to neither (their brokers are unreachable: a connection attempt
would be logged and retried for ``connection_timeout``, 30 s)."""

from __future__ import annotations

import socket
import textwrap

from tamarco.harness import ServiceProcess

SERVICE = textwrap.dedent(
    """
    from tamarco.core.microservice import Microservice
    from tamarco.resources.io.amqp import AMQPPullInput, AMQPResource
    from tamarco.resources.io.kafka import KafkaOutput, KafkaResource


    class Herd(Microservice):
        name = "herd"
        amqp = AMQPResource(inputs=[AMQPPullInput("cows")])
        kafka = KafkaResource(outputs=[KafkaOutput("metrics")])

        @AMQPPullInput(resource=amqp, queue="calves")
        async def count(self, message):
            pass


    Herd().run()
    """
)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_wrong_keys_in_two_resources_fail_the_start_naming_both_before_any_connection(tmp_path):
    script = tmp_path / "herd.py"
    script.write_text(SERVICE)
    port = unused_port()
    settings = {
        "system": {
            "resources": {
                "amqp": {"host": "127.0.0.1", "port": port, "hots": "rabbit", "connection_timeout": 30},
                "kafka": {
                    "bootstrap_servers": f"127.0.0.1:{port}",
                    "producer": {"ack": "all"},
                    "connection_timeout": 30,
                },
                "tamarco_http_report_server": {"port": 0},
            }
        }
    }
    with ServiceProcess(script, settings=settings) as process:
        code = process.wait(timeout=25)  # well inside the 30 s a connection attempt would take
        output = process.output
    assert code == 1, output
    assert "wrong settings in 2 resources ('amqp', 'kafka')" in output
    assert "setting system.resources.amqp.hots is unknown" in output
    assert "setting system.resources.kafka.producer.ack is unknown" in output
    assert "cannot connect" not in output and "connected to" not in output
    assert "lifecycle: pre_start" not in output  # no resource got past the settings check
