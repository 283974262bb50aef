"""The cold-start share we control: how long importing app.py takes, and how
big the deployment package is, each next to a minimal Chalice app measured
the same way in the same run."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
IMPORT_RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "7"))  # fresh interpreters per app; the median counts
MINIMAL_APP = '''from chalice import Chalice

app = Chalice(app_name="minimal")


@app.route("/")
def index():
    return {"hello": "world"}
'''
# The fair baseline: a Lambda that talks to DynamoDB must at least load the SDK
# and build one client (its service model) at some point of its cold start.
MINIMAL_DYNAMODB_APP = '''import os

import boto3
from chalice import Chalice

app = Chalice(app_name="minimal")
dynamodb = boto3.client("dynamodb", region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))


@app.route("/")
def index():
    return {"hello": "world"}
'''
MINIMAL_CONFIG = '{"version": "2.0", "app_name": "minimal", "stages": {"dev": {"api_gateway_stage": "api"}}}'


# What a traced container adds on its first invocation: Powertools Tracer and
# the X-Ray SDK, loaded (and botocore patched) by chalicelib.observe.traces.
LOAD_TRACER = "from chalicelib.observe import traces; traces.tracer()"


def _import_seconds(project: Path, then: str = "", env_extra: dict | None = None) -> float:
    """The median time a fresh interpreter takes to import `app` from
    `project` and run `then` (the interpreter's own start-up is not counted)."""
    code = ("import time; t = time.perf_counter(); import app\n"
            f"{then or 'pass'}\nprint(time.perf_counter() - t)")
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
           **(env_extra or {})}
    runs = [float(subprocess.run([sys.executable, "-c", code], cwd=project, env=env, check=True,
                                 capture_output=True, text=True, timeout=120).stdout)
            for _ in range(IMPORT_RUNS)]
    return statistics.median(runs)


def _package_bytes(project: Path, stage: str) -> int | None:
    """The size of `chalice package`'s deployment.zip, or None if chalice
    could not build it (it downloads wheels for requirements.txt)."""
    chalice = Path(sys.executable).with_name("chalice")
    with tempfile.TemporaryDirectory() as out:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_STREAM_ARN")}
        env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        cache = project / ".chalice" / "deployments"
        before = set(cache.glob("*.zip")) if cache.exists() else set()
        try:
            subprocess.run([str(chalice if chalice.exists() else shutil.which("chalice")), "package",
                            "--stage", stage, out], cwd=project, env=env, check=True, capture_output=True,
                           text=True, timeout=600)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            print(f"  chalice package failed in {project}: {getattr(exc, 'stderr', exc)}", flush=True)
            return None
        finally:  # chalice keeps a copy per code version; do not let runs pile them up
            for made in (set(cache.glob("*.zip")) if cache.exists() else set()) - before:
                made.unlink(missing_ok=True)
        return (Path(out) / "deployment.zip").stat().st_size


def _minimal_project(root: Path, source: str) -> Path:
    (root / "app.py").write_text(source)
    (root / "requirements.txt").write_text("")
    (root / ".chalice").mkdir()
    (root / ".chalice" / "config.json").write_text(MINIMAL_CONFIG)
    return root


def measure(package: bool = True) -> dict:
    """import_seconds: Chirp and a minimal Chalice app (imports nothing);
    import_seconds_minimal_dynamodb_app: a minimal Chalice app that creates
    one DynamoDB client at import, and import_ratio_to_minimal_dynamodb_app,
    Chirp's time over it (the target is at most 1.5); import_seconds_traced:
    Chirp's import and its first traced invocation's Tracer load, as in a
    Lambda container with active tracing."""
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as tmp_dynamodb:
        minimal = _minimal_project(Path(tmp), MINIMAL_APP)
        minimal_dynamodb = _minimal_project(Path(tmp_dynamodb), MINIMAL_DYNAMODB_APP)
        chirp = _import_seconds(PROJECT)
        baseline = _import_seconds(minimal_dynamodb)
        result = {
            "import_seconds": {"chirp": chirp, "minimal_chalice_app": _import_seconds(minimal)},
            "import_seconds_minimal_dynamodb_app": baseline,
            "import_ratio_to_minimal_dynamodb_app": chirp / baseline,
            "import_seconds_traced": _import_seconds(PROJECT, LOAD_TRACER,
                                                     {"LAMBDA_TASK_ROOT": str(PROJECT)}),
            "import_runs": IMPORT_RUNS,
        }
        if package:
            result["package_bytes"] = {"chirp": _package_bytes(PROJECT, "dev"),
                                       "minimal_chalice_app": _package_bytes(minimal, "dev")}
    return result
