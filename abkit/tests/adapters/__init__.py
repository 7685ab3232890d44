"""Tests of abkit.adapters."""
