"""Dev-only code: the local stack, its event-source pump, schema generation
and demo data. Never shipped to Lambda (chalice packages only app.py,
chalicelib/ and requirements.txt)."""
