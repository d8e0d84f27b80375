"""Service contracts: the AsyncAPI 3.0 document of a service's messaging and the OpenAPI 3.1
document of its HTTP servers, generated from the service class without starting it.

- :func:`asyncapi_document` (see :mod:`tamarco.core.contracts.asyncapi`);
- :func:`openapi_document`: asks each resource that implements :class:`DescribesOpenAPI`
  (tamarco-http's ``HTTPServerResource``) for its paths;
- :func:`service_with_settings`: an instance of a service class whose resources see the
  settings, for the documents, never started; :func:`load_service_class` for ``module:Class``.

``tamarco asyncapi`` and ``tamarco openapi`` print them; the running service serves them.
"""

from __future__ import annotations

from tamarco.core.contracts._openapi import DescribesOpenAPI, openapi_document
from tamarco.core.contracts._service import ContractError, load_service_class, service_info, service_with_settings
from tamarco.core.contracts.asyncapi import ASYNCAPI_VERSION, asyncapi_document, dump
from tamarco.core.contracts.html import asyncapi_html, openapi_html

__all__ = [
    "ASYNCAPI_VERSION",
    "ContractError",
    "DescribesOpenAPI",
    "asyncapi_document",
    "asyncapi_html",
    "dump",
    "load_service_class",
    "openapi_document",
    "openapi_html",
    "service_info",
    "service_with_settings",
]
