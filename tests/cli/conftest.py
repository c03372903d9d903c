"""Fixtures for the CLI tests."""

from tests.testing.recorded import v1_compensated, v1_completed

__all__ = ["v1_compensated", "v1_completed"]
