"""tamarco-amqp installs into the shared namespace beside tamarco-core without breaking it."""

import importlib


def test_amqp_leaf_package_and_core_share_the_namespace():
    leaf = importlib.import_module("tamarco.resources.io.amqp")
    core = importlib.import_module("tamarco.core.microservice")
    assert leaf.__file__.endswith("tamarco/resources/io/amqp/__init__.py")
    assert core.Microservice.__name__ == "Microservice"


def test_the_0_1_tamarco_amqp_modules_give_the_same_classes_and_name_the_new_path():
    import sys

    import pytest
    import tamarco.resources.io.amqp as amqp

    for module in ("resource", "input", "output"):
        sys.modules.pop(f"tamarco_amqp.{module}", None)
    with pytest.warns(
        DeprecationWarning, match=r"tamarco_amqp\.input is deprecated: import from tamarco\.resources\.io\.amqp\.input"
    ) as caught:
        from tamarco_amqp.input import AMQPPullInput, AMQPRequestInput, AMQPSubscriptionInput
    assert caught[0].filename == __file__  # the warning points at the importing line
    with pytest.warns(DeprecationWarning, match=r"import from tamarco\.resources\.io\.amqp\.output"):
        from tamarco_amqp.output import AMQPGenericOutput, AMQPOutput
    with pytest.warns(DeprecationWarning, match=r"import from tamarco\.resources\.io\.amqp\.resource"):
        from tamarco_amqp.resource import AMQPResource
    assert (AMQPPullInput, AMQPRequestInput, AMQPSubscriptionInput) == (
        amqp.AMQPPullInput,
        amqp.AMQPRequestInput,
        amqp.AMQPSubscriptionInput,
    )
    assert (AMQPOutput, AMQPGenericOutput, AMQPResource) == (amqp.AMQPOutput, amqp.AMQPGenericOutput, amqp.AMQPResource)
