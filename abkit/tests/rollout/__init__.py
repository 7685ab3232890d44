"""Tests of abkit.rollout."""
