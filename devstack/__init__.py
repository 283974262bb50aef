"""Dev-only code: the local stack (its tables and queues, its event-source
pump, its API gateway), DynamoDB call metering and demo data. Never shipped
to Lambda (chalice packages only app.py, chalicelib/ and requirements.txt).
What builds the AWS deployment is in deploy/, which this may import from
(never the other way)."""
