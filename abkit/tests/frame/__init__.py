"""Tests of abkit.frame."""
