"""Code that runs in activity workers: what a saga activity can know about its step."""

from temporal_sagas._context import current_idempotency_key, current_step

__all__ = ["current_idempotency_key", "current_step"]
