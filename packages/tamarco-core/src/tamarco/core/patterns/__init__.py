"""Small design patterns used across Tamarco: Singleton, Proxy, Flyweight, FlyweightWithLabels."""

from tamarco.core.patterns.flyweight import Flyweight, FlyweightWithLabels
from tamarco.core.patterns.proxy import Proxy
from tamarco.core.patterns.singleton import Singleton

__all__ = ["Flyweight", "FlyweightWithLabels", "Proxy", "Singleton"]
