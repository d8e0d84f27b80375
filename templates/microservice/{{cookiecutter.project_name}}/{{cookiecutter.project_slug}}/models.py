"""The service's payloads: pydantic models, validated on the way in and described in its
OpenAPI document (``make contract``)."""

from pydantic import BaseModel, Field


class GreetingRequest(BaseModel):
    """Who to greet."""

    name: str = Field(min_length=1, max_length=200)


class Greeting(BaseModel):
    """A greeting."""

    message: str
