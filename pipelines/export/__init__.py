"""Segment exports: files (files.py), deltas (delta.py), destinations (destinations/: one class
per config `type`), the export mail (message.py; sent by `pipelines.transport.mail`, which quality
alerts use too), and the orchestration with its safety rules (run.py: `export_segment`)."""
