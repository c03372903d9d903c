"""Fixtures for the testing-package tests."""

from tests.testing.recorded import v1_compensated, v1_completed

pytest_plugins = ["pytester"]

__all__ = ["v1_compensated", "v1_completed"]
