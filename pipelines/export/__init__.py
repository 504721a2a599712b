"""Segment exports: files (files.py), deltas (delta.py), destinations (destinations.py), the
export mail (message.py), mail delivery shared with alerts (mail.py: `deliver_mail`), and the
orchestration with its safety rules (run.py: `export_segment`)."""
