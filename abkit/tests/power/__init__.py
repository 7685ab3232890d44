"""Tests of abkit.power."""
