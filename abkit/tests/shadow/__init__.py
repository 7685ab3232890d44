"""Tests of abkit.shadow."""
