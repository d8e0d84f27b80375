"""Business logic: plain functions and classes, testable without the framework."""
