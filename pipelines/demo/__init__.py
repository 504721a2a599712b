"""Deterministic demo drops for the `crm` and `webshop` sources, with a ground-truth file.

See `generate.py` for the entry point and `truth.py` for what the ground truth promises.
"""

from pipelines.demo.generate import DemoSummary, generate

__all__ = ["DemoSummary", "generate"]
