"""Profiler and memory analyzer resources, with an in-memory report server."""

import asyncio
import json
import marshal
import tracemalloc

from tamarco.core.microservice import EXIT_FAILURE, Microservice
from tamarco.resources.bases import StatusCodes
from tamarco.resources.debug.memory_analyzer import MemoryAnalyzerResource
from tamarco.resources.debug.profiler import ProfilerResource


def make_service(kit, resources_settings, **resources):
    attrs = {
        "name": "debug_unit",
        "use_default_resources": False,
        "tamarco_http_report_server": kit.ReportServer(),
        **resources,
    }
    service = type("DebugUnitService", (Microservice,), attrs)()
    service.settings.update_internal({"system": {"resources": resources_settings}})
    return service


def busy_function_for_the_profiler(n):
    return sum(i * i for i in range(n))


async def test_profiler_writes_cumulative_stats_and_serves_the_latest(kit, tmp_path):
    file = tmp_path / "profile.txt"
    settings = {
        "profiler": {"microservices_with_profiler": ["debug_unit"], "interval_seconds": 0.05, "file": str(file)}
    }
    service = make_service(kit, settings, profiler=ProfilerResource())
    async with kit.Running(service):
        busy_function_for_the_profiler(1000)
        await kit.wait_until(lambda: service.profiler.reports_written >= 1)
        busy_function_for_the_profiler(1000)
        reports = service.profiler.reports_written
        await kit.wait_until(lambda: service.profiler.reports_written > reports)
        text = file.read_text()
        code, served, headers = await service.tamarco_http_report_server.get("/debug/profile")
        binary_code, binary, _ = await service.tamarco_http_report_server.get("/debug/profile?format=pstats")
        bad_code, bad, _ = await service.tamarco_http_report_server.get("/debug/profile?format=svg")
        status = await service.profiler.status()
    assert "cumulative cProfile statistics" in text
    assert "busy_function_for_the_profiler" in text
    assert "Ordered by: cumulative time" in text
    assert code == 200 and headers["Content-Type"].startswith("text/plain")
    assert "busy_function_for_the_profiler" in served
    stats = marshal.loads(binary)
    calls = [v for k, v in stats.items() if k[2] == "busy_function_for_the_profiler"]
    assert binary_code == 200 and calls and calls[0][1] == 2  # cumulative: both calls counted
    assert bad_code == 400 and "unknown format 'svg'" in bad["error"]
    assert status["enabled"] is True and status["status_name"] == "STARTED" and status["file"] == str(file)
    assert service.profiler.profile is None  # stopped with the service


async def test_a_disabled_profiler_costs_nothing_and_says_how_to_enable_it(kit, tmp_path):
    service = make_service(
        kit, {"profiler": {"microservices_with_profiler": ["another_service"]}}, profiler=ProfilerResource()
    )
    async with kit.Running(service):
        assert service.profiler.profile is None
        assert service.profiler._task is None
        code, body, _ = await service.tamarco_http_report_server.get("/debug/profile")
        status = await service.profiler.status()
    assert code == 404
    assert body == {
        "error": "profiler is disabled for service debug_unit",
        "enable_with": "system.resources.profiler.microservices_with_profiler",
    }
    assert status == {"status": 2, "status_name": "STARTED", "enabled": False}


async def test_the_profiler_can_be_enabled_live(kit, tmp_path):
    settings = {"profiler": {"interval_seconds": 0.05, "file": str(tmp_path / "p")}}
    service = make_service(kit, settings, profiler=ProfilerResource())
    async with kit.Running(service):
        assert service.profiler.profile is None
        await service.settings.set("system.resources.profiler.microservices_with_profiler", ["debug_unit"])
        assert service.profiler.profile is not None
        await kit.wait_until(lambda: (tmp_path / "p").exists())
        await service.settings.set("system.resources.profiler.microservices_with_profiler", [])
        assert service.profiler.profile is None


async def test_an_unwritable_profiler_file_is_a_startup_error_naming_the_setting(kit, tmp_path, logs):
    settings = {"profiler": {"enabled": True, "file": str(tmp_path / "missing" / "profile")}}
    service = make_service(kit, settings, profiler=ProfilerResource())
    assert await asyncio.wait_for(service.run_until_stopped(), 10) == EXIT_FAILURE
    assert any("setting system.resources.profiler.file: cannot write" in m for m in logs.messages)


async def test_a_profiler_file_that_becomes_unwritable_fails_the_resource_honestly(kit, tmp_path):
    directory = tmp_path / "out"
    directory.mkdir()
    settings = {"profiler": {"enabled": True, "interval_seconds": 0.05, "file": str(directory / "profile")}}
    service = make_service(kit, settings, profiler=ProfilerResource())
    async with kit.Running(service):
        await kit.wait_until(lambda: service.profiler.reports_written >= 1)
        (directory / "profile").unlink()
        directory.rmdir()
        await kit.wait_until(lambda: service.profiler.status_code == StatusCodes.FAILED)
        assert "system.resources.profiler.file" in service.profiler.last_error
        directory.mkdir()
        await kit.wait_until(lambda: service.profiler.status_code == StatusCodes.STARTED)


class LeakyThing:
    pass


async def test_memory_analyzer_reports_allocation_sites_and_type_growth(kit, tmp_path):
    file = tmp_path / "memory.json"
    settings = {
        "memory_analyzer": {
            "microservices_with_memory_analyzer": "all",
            "interval_seconds": 0.1,
            "file": str(file),
            "top": 200,
        }
    }
    assert not tracemalloc.is_tracing()
    service = make_service(kit, settings, memory_analyzer=MemoryAnalyzerResource())
    kept = []
    async with kit.Running(service):
        assert tracemalloc.is_tracing()
        await kit.wait_until(lambda: service.memory_analyzer.reports_written >= 1)
        kept.extend(LeakyThing() for _ in range(5000))
        reports = service.memory_analyzer.reports_written
        await kit.wait_until(lambda: service.memory_analyzer.reports_written > reports)
        written = json.loads(file.read_text())
        code, served, headers = await service.tamarco_http_report_server.get("/debug/memory")
    assert not tracemalloc.is_tracing()  # stopped with the service
    assert code == 200 and headers["Content-Type"].startswith("application/json")
    assert served == written
    assert written["microservice"] == "debug_unit"
    assert written["traced_memory_bytes"]["current"] > 0
    growth = {entry["type"]: entry["growth"] for entry in written["object_type_growth"]}
    assert growth.get("LeakyThing", 0) >= 5000
    assert written["top_allocations"] and {"file", "line", "size_bytes", "count"} <= set(written["top_allocations"][0])
    assert any(site["file"] == __file__ for site in written["allocation_growth"])


async def test_a_disabled_memory_analyzer_does_not_trace(kit):
    service = make_service(kit, {}, memory_analyzer=MemoryAnalyzerResource())
    async with kit.Running(service):
        assert not tracemalloc.is_tracing()
        code, body, _ = await service.tamarco_http_report_server.get("/debug/memory")
    assert code == 404
    assert body["enable_with"] == "system.resources.memory_analyzer.microservices_with_memory_analyzer"


async def test_bad_debug_settings_name_the_key(kit, logs):
    service = make_service(kit, {"memory_analyzer": {"interval_seconds": -1}}, memory_analyzer=MemoryAnalyzerResource())
    assert await asyncio.wait_for(service.run_until_stopped(), 10) == EXIT_FAILURE
    assert any(
        "setting system.resources.memory_analyzer.interval_seconds must be a number of seconds > 0" in m
        for m in logs.messages
    )


def test_the_enabling_list_and_the_report_settings_are_live():
    shared = ("enabled", "interval_seconds", "file", "top")
    assert ProfilerResource.live_settings == ("microservices_with_profiler", *shared)
    assert MemoryAnalyzerResource.live_settings == ("microservices_with_memory_analyzer", *shared)
    assert ProfilerResource.default_interval_seconds == MemoryAnalyzerResource.default_interval_seconds == 30.0


def test_exports():
    from tamarco.resources.debug import memory_analyzer, profiler

    assert profiler.__all__ == ["ProfilerResource"]
    assert memory_analyzer.__all__ == ["MemoryAnalyzerResource"]


def test_shared_namespace_levels_have_no_init():
    from pathlib import Path

    import tamarco.resources.debug.profiler as module

    debug = Path(module.__file__).parent.parent
    assert not (debug / "__init__.py").exists()
    assert not (debug.parent / "basic" / "__init__.py").exists()
    assert (debug.parent / "basic" / "status" / "__init__.py").exists()


async def test_without_a_report_server_a_debug_resource_says_so_once_and_still_runs(kit, logs):
    attrs = {"name": "debug_no_report", "use_default_resources": False, "profiler": ProfilerResource()}
    service = type("DebugNoReport", (Microservice,), attrs)()
    async with kit.Running(service):
        assert service.profiler.status_code == StatusCodes.STARTED
        await service.profiler.pre_start()  # as a restart of the resource does: still one line
    lines = [m for m in logs.messages if "has no report server" in m]
    assert lines == [
        "profiler: service debug_no_report has no report server (no resource implementing "
        "tamarco.core.report_server.ReportServer): /debug/profile is not served; the reports are still "
        "written to the file when enabled"
    ]


async def test_every_wrong_debug_setting_is_reported_at_once_with_the_other_resources(kit, logs):
    service = make_service(
        kit,
        {
            "memory_analyzer": {"interval_seconds": -1, "top": 0, "microservices_with_memory_analyzer": 5},
            "profiler": {"enabled": "yes"},
        },
        memory_analyzer=MemoryAnalyzerResource(),
        profiler=ProfilerResource(),
    )
    assert await asyncio.wait_for(service.run_until_stopped(), 10) == EXIT_FAILURE
    failure = next(m for m in logs.messages if "wrong settings in 2 resources" in m)
    for part in (
        "system.resources.memory_analyzer.interval_seconds must be a number of seconds > 0",
        "system.resources.memory_analyzer.top must be a whole number >= 1",
        "system.resources.memory_analyzer.microservices_with_memory_analyzer must be a list of service names",
        "system.resources.profiler.enabled must be true or false",
    ):
        assert part in failure
