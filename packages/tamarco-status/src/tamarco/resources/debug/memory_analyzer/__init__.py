"""The memory analyzer resource (default resource ``memory_analyzer``): top allocation sites
(tracemalloc) and object-type growth (gc), written periodically to a file and served at
``GET /debug/memory``."""

from tamarco.resources.debug.memory_analyzer._resource import MemoryAnalyzerResource

__all__ = ["MemoryAnalyzerResource"]
