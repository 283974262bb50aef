"""Build-time deployment code: what turns the app's own definitions into the
files AWS is deployed from, and the steps `chalice deploy` leaves undone.

Never shipped to Lambda (chalice packages only app.py, chalicelib/ and
requirements.txt) and not part of the local stack either: devstack/ may
import from here (the local stack creates the same tables and queues and
runs the same mapping policies), nothing here imports devstack.

- project: the repository's layout and the hand-written .chalice/config.json
- naming: how tables, queues and the data stack's exports are named
- tables: the tables, from the PynamoDB models in chalicelib.storage.tables
- queues: the SQS queues and their attributes
- mappings: Lambda event-source mappings as plain data (MappingPolicy)
- event_sources: the app's stream and queue handlers, their mapping policies
  and what their mappings are set to on AWS
- gateway_responses: API Gateway's own errors in the contract's shape
- monitoring: the alarms, the dashboard and the names they find things by
- api_stage: the API stage's throttling and access logging
- security: the checkov checks not fixed and why (resource Metadata), and
  running the pinned checkov
- cloudformation: infra/tables.json and infra/api-<stage>.json
- iam: the per-function policies in .chalice/
- files: the generated files, written or checked for drift
- after_deploy: what to put on what `chalice deploy` made
- __main__: `python -m deploy` (`make infra`), `--check`, `after-deploy`
"""
