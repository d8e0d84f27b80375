"""Tamarco core: the microservice lifecycle, settings, logging and patterns."""
