"""The service's one piece of logic: a greeting. Plain Python, tested without the framework."""


class InvalidName(ValueError):
    """A name that cannot be greeted (empty, or longer than :data:`MAX_NAME_LENGTH`)."""


MAX_NAME_LENGTH = 64


def greet(name: str) -> str:
    """The greeting for ``name``; :class:`InvalidName` when the name is empty or too long."""
    cleaned = name.strip()
    if not cleaned:
        raise InvalidName("the name is empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidName(f"the name is longer than {MAX_NAME_LENGTH} characters")
    return f"Hello, {cleaned}!"
