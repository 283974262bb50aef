"""The deployment files, generated from the code that defines what they describe.

- `infra/tables.json`: the data stack (deploy.cloudformation);
- `infra/api-<stage>.json`: merged into `chalice package --stage <stage>`
  output (deploy.cloudformation);
- `.chalice/policy-*.json`: one IAM policy per function and stage (deploy.iam).

`.chalice/config.json` itself is written by hand (memory, timeouts and the
stages are tuned there); it is an input here, and tests hold it to settings.

    python -m deploy                          # write the files (`make infra`)
    python -m deploy --check                  # exit 1 if a committed file is stale
    python -m deploy after-deploy --stage dev
                                              # after `chalice deploy`, see infra/README.md
"""
import argparse
import sys

from deploy.after_deploy import after_deploy
from deploy.files import stale_files, write_files
from deploy.project import ROOT, stages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a generated file is out of date")
    commands = parser.add_subparsers(dest="command")
    after = commands.add_parser("after-deploy", help="after `chalice deploy`: put the gateway responses "
                                                     "and the event-source mapping settings")
    after.add_argument("--stage", required=True, choices=stages())
    after.add_argument("--rest-api-id", help="default: from .chalice/deployed/<stage>.json")
    args = parser.parse_args(argv)

    if args.command == "after-deploy":
        after_deploy(args.stage, args.rest_api_id)
        return 0
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)} (run `make infra`)", file=sys.stderr)
        return 1 if stale else 0
    for path in write_files():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
