"""Runnable examples of temporal-sagas, one scenario per folder."""
