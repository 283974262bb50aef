"""Where the deployment files live, and the one deployment input written by
hand: `.chalice/config.json` (the stages, memory, timeouts, environment and
which policy file each function gets), as chalice itself resolves it.

Everything generated is derived from code and from this file; tests hold
the file to chalicelib.settings.
"""
import json
from pathlib import Path

from chalice.config import Config

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
CHALICE = ROOT / ".chalice"


def chalice_config() -> dict:
    return json.loads((CHALICE / "config.json").read_text())


def stages() -> list[str]:
    return sorted(chalice_config()["stages"])


def stage_config(stage: str, function: str = "api_handler") -> Config:
    """The settings chalice itself resolves for one function of a stage."""
    return Config(chalice_stage=stage, function_name=function, config_from_disk=chalice_config())


def policy_file(stage: str, function: str | None = None) -> str:
    """The policy file chalice gives `function`, or the stage's own (which
    every function without one of its own uses); chalice's default if unset."""
    if function is None:
        config = chalice_config()
        named = config["stages"][stage].get("iam_policy_file") or config.get("iam_policy_file")
    else:
        named = stage_config(stage, function).iam_policy_file
    return named or f"policy-{stage}.json"
