"""Funnel analytics (partner API, `analytics` scope): attempt records without PHI, the funnel,
its CSV and SVG forms. `funnel.py` and `svg.py` are pure; all SQL is in `store.py`."""
