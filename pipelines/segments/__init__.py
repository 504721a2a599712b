"""Segments: SQL filters over `segment_candidates`, suppression and opt-in always applied
(build.py)."""
