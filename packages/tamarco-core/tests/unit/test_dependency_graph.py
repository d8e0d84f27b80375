import pytest
from tamarco.core.dependency_graph import start_order
from tamarco.core.errors import ResourceDependencyCycle, UnknownResourceDependency


def test_dependencies_start_first_and_ties_keep_declaration_order():
    order = start_order({"metrics": ["report"], "amqp": [], "report": [], "status": ["report", "metrics"]})
    assert order.index("report") < order.index("metrics") < order.index("status")
    assert order == ["report", "metrics", "amqp", "status"]


def test_cycle_names_the_resources():
    with pytest.raises(ResourceDependencyCycle) as info:
        start_order({"a": ["b"], "b": ["c"], "c": ["a"], "d": []})
    assert info.value.cycle == ["a", "b", "c", "a"]
    assert "a -> b -> c -> a" in str(info.value)


def test_unknown_dependency_names_both():
    with pytest.raises(UnknownResourceDependency, match="'kafka' depends on 'zookeeper'"):
        start_order({"kafka": ["zookeeper"]})
