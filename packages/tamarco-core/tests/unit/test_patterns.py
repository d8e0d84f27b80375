import pytest
from tamarco.core.patterns import Flyweight, FlyweightWithLabels, Proxy, Singleton


def test_singleton_returns_one_instance_per_class():
    class Config(metaclass=Singleton):
        def __init__(self, value):
            self.value = value

    class Other(metaclass=Singleton):
        pass

    first = Config(1)
    assert Config(2) is first
    assert first.value == 1
    assert Other() is not first


def test_flyweight_same_key_same_object():
    class Metric(metaclass=Flyweight):
        def __init__(self, metric_id):
            self.metric_id = metric_id

    assert Metric("http_requests") is Metric("http_requests")
    assert Metric("http_requests") is not Metric("other")
    assert Metric(metric_id="kw") is Metric("kw")


def test_flyweight_is_per_class():
    class A(metaclass=Flyweight):
        def __init__(self, key):
            self.key = key

    class B(metaclass=Flyweight):
        def __init__(self, key):
            self.key = key

    assert A("x") is not B("x")


def test_flyweight_with_labels_compares_labels_by_value():
    class Metric(metaclass=FlyweightWithLabels):
        def __init__(self, metric_id, labels=None):
            self.metric_id = metric_id
            self.labels = labels or {}

    get_1 = Metric("request", labels={"protocol": "http", "method": "get"})
    post_1 = Metric("request", labels={"protocol": "http", "method": "post"})
    get_2 = Metric("request", labels={"method": "get", "protocol": "http"})
    assert get_1 is get_2
    assert get_1 is not post_1
    assert Metric("request") is not get_1
    assert Metric("request") is Metric("request", None)


def test_flyweight_labels_positional_after_other_args():
    class Meter(metaclass=FlyweightWithLabels):
        def __init__(self, name, unit, labels=None):
            self.labels = labels

    assert Meter("a", "s", {"x": 1}) is Meter("a", "s", labels={"x": 1})
    assert Meter("a", "s", {"x": 1}) is not Meter("a", "s", {"x": 2})


def test_proxy_follows_replaced_target():
    proxy = Proxy([1, 2])
    assert len(proxy) == 2
    assert proxy[0] == 1
    proxy._obj = [1, 2, 3]
    assert len(proxy) == 3
    assert proxy == [1, 2, 3]
    proxy._obj = 10
    assert proxy + 5 == 15
    assert int(proxy) == 10


def test_proxy_forwards_attributes():
    class Target:
        value = 3

        def double(self):
            return self.value * 2

    proxy = Proxy(Target())
    assert proxy.double() == 6
    proxy.value = 5
    assert proxy._obj.value == 5
    with pytest.raises(AttributeError):
        proxy.missing  # noqa: B018
