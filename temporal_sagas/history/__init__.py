"""Pure functions from Temporal histories to saga timelines (no I/O)."""

__all__: list[str] = []
