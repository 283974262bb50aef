"""How tables, queues and the data stack's exports are named.

Tables and queues are named settings.NAME_PATTERN, "chirp-<stage>-<name>";
a `short` name is the <name> part ("tweets", "jobs-dlq"), the same in every
stage. FIFO queues (settings.FIFO_QUEUES) end in ".fifo", as SQS requires;
their short names do not ("views" is "chirp-<stage>-views.fifo"). The data stack exports facts about each as
"chirp-<stage>-<name>-<what>" for other stacks to import.
"""
import re

from chalicelib import settings

STAGE_REF = "${Stage}"  # the data stack's parameter, inside Fn::Sub strings


def short_name(model) -> str:
    """The table's name within a stage ("users"), from settings.TABLE_NAMES."""
    for short, full in settings.TABLE_NAMES.items():
        if full == model.Meta.table_name:
            return short
    raise LookupError(model.Meta.table_name)


def resource_name(short: str, stage: str) -> str:
    suffix = settings.FIFO_SUFFIX if short in settings.FIFO_QUEUES else ""
    return settings.NAME_PATTERN.format(stage=stage, name=short) + suffix


_NAME_RE = re.compile(re.escape(settings.NAME_PATTERN.format(stage="STAGE", name="NAME"))
                      .replace("STAGE", "(?P<stage>[A-Za-z0-9_]+)").replace("NAME", "(?P<name>.+)"))


def short_of(name: str) -> str:
    """A table's or queue's name within a stage: "chirp-local-jobs" -> "jobs",
    "chirp-local-views.fifo" -> "views"."""
    match = _NAME_RE.fullmatch(name)
    if not match:
        raise ValueError(f"{name!r} does not follow {settings.NAME_PATTERN!r}")
    short = match["name"]
    fifo = short.removesuffix(settings.FIFO_SUFFIX)
    return fifo if fifo != short and fifo in settings.FIFO_QUEUES else short


def export(short: str, what: str, stage: str = STAGE_REF) -> str:
    """The data stack's export of one fact about a table or queue, e.g.
    `chirp-prod-tweets-stream-arn`: what other stacks import. By the short
    name ("chirp-prod-views-arn"): export names cannot hold a ".fifo"."""
    return f"{settings.NAME_PATTERN.format(stage=stage, name=short)}-{what}"


def export_name(model, what: str, stage: str = STAGE_REF) -> str:
    return export(short_name(model), what, stage)


def table_name(model, stage: str) -> str:
    """The table's name in `stage`, as settings.TABLE_NAMES computes it there."""
    return resource_name(short_name(model), stage)


def camel(short: str) -> str:
    """"jobs-dlq" -> "JobsDlq": a name as part of a CloudFormation logical id or property."""
    return "".join(part.capitalize() for part in re.split(r"[-_]", short))
