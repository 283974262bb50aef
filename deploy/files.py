"""The generated deployment files: which they are, how they are rendered,
and which committed copies are stale (`make infra` writes them,
`python -m deploy --check` and tests/integration/test_infra.py fail on
drift).

`.chalice/config.json` is not among them: it is written by hand and is an
input here (deploy.project).
"""
import json
from pathlib import Path

from deploy.cloudformation import api_template, api_template_path, tables_template
from deploy.iam import policy_files
from deploy.monitoring import monitoring_template
from deploy.project import INFRA, stages


def generated_files() -> dict[Path, dict]:
    return {INFRA / "tables.json": tables_template(),
            **{api_template_path(stage): api_template(stage) for stage in stages()},
            **{INFRA / f"monitoring-{stage}.json": monitoring_template(stage) for stage in stages()},
            **policy_files()}


def render(document: dict) -> str:
    return json.dumps(document, indent=2) + "\n"


def stale_files() -> list[Path]:
    """Generated files whose committed copy is missing or different."""
    return [path for path, document in generated_files().items()
            if not path.exists() or path.read_text() != render(document)]


def write_files() -> list[Path]:
    written = []
    for path, document in generated_files().items():
        text = render(document)
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
    return written
