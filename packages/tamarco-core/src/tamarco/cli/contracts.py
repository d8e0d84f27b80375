"""``tamarco asyncapi`` and ``tamarco openapi``: a service's contract documents, printed without
starting the service or connecting to any broker.

::

    tamarco asyncapi my_service.app:MyService --format yaml -o asyncapi.yaml --settings settings.yml
    tamarco openapi my_service.app:MyService -o openapi.json

``--settings`` is a settings file (as ``TAMARCO_YML_FILE``): the queue prefix, broker addresses
and the like come from it, as they do for the running service.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(commands: Any) -> None:
    for name, help_text in (
        ("asyncapi", "print the AsyncAPI 3.0 document of a service's messaging"),
        ("openapi", "print the OpenAPI 3.1 document of a service's HTTP server"),
    ):
        parser = commands.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("service", help="the service class, module:ServiceClass (or path/to/file.py:ServiceClass)")
        parser.add_argument("--format", choices=("json", "yaml"), default="json", help="output format (default json)")
        parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
        parser.add_argument("--settings", metavar="FILE", help="a YAML/JSON settings file, as TAMARCO_YML_FILE")
        if name == "openapi":
            parser.add_argument("--resource", help="only this HTTP server resource (default: every one)")
        parser.set_defaults(handler=run, document=name)


def run(args: argparse.Namespace) -> int:
    from tamarco.core import contracts

    service_class = contracts.load_service_class(args.service)
    service = asyncio.run(contracts.service_with_settings(service_class, args.settings))
    if args.document == "asyncapi":
        document = contracts.asyncapi_document(service)
    else:
        document = contracts.openapi_document(service, getattr(args, "resource", None))
    text = contracts.dump(document, args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
