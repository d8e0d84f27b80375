"""tamarco-amqp installs into the shared namespace beside tamarco-core without breaking it."""

import importlib


def test_amqp_leaf_package_and_core_share_the_namespace():
    leaf = importlib.import_module("tamarco.resources.io.amqp")
    core = importlib.import_module("tamarco.core.microservice")
    assert leaf.__file__.endswith("tamarco/resources/io/amqp/__init__.py")
    assert core.Microservice.__name__ == "Microservice"
