"""Detector models: per-frame encoders, temporal heads, and the registry that builds them."""

from training.models.registry import DETECTORS, Detector, create_detector

__all__ = ["DETECTORS", "Detector", "create_detector"]
