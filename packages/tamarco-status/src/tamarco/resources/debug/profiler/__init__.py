"""The profiler resource (default resource ``profiler``): cumulative cProfile statistics of
the event-loop thread, written periodically to a file and served at ``GET /debug/profile``."""

from tamarco.resources.debug.profiler._resource import ProfilerResource

__all__ = ["ProfilerResource"]
