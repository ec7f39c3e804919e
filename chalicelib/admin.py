"""The operator CLI: companies, plans and API keys.

    python -m chalicelib.admin create-company --name NAME --plan PLAN [--email EMAIL]
                                              [--user-name NAME]
    python -m chalicelib.admin list-companies
    python -m chalicelib.admin set-plan --company-id ID --plan PLAN
    python -m chalicelib.admin issue-key --company-id ID --email EMAIL
                                         [--role owner|worker] [--user-name NAME]
    python -m chalicelib.admin list-keys --email EMAIL
    python -m chalicelib.admin revoke-key --email EMAIL --key-id KEY_ID
    python -m chalicelib.admin kept-changes [--event FILE]

An API user is a user of its company (``api_users``): create-company makes the owner's
user (role ``owner``) with the first key, and issue-key makes the user of an e-mail that
has none (role ``worker`` unless ``--role`` says otherwise). Every command prints JSON
lines. With ``MOTO_PORT`` set it talks to the local stack that
``make run`` started; otherwise to AWS through boto3's usual configuration, using the
table prefix of ``--stage`` (default ``prod``) from ``.chalice/config.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chalicelib import api_users, auth, companies, errors, resource_store

CONFIG = Path(__file__).resolve().parent.parent / ".chalice" / "config.json"
LOCAL_REGION = "eu-central-1"


def stage_environment(stage: str) -> dict[str, str]:
    """The environment variables a Chalice stage sets (top level, then the stage's own)."""
    config = json.loads(CONFIG.read_text(encoding="utf-8"))
    if stage not in config.get("stages", {}):
        raise SystemExit(f"no stage {stage!r} in {CONFIG}")
    return {**config.get("environment_variables", {}),
            **config["stages"][stage].get("environment_variables", {})}


def use_local_stack(endpoint: str, environ: Any = os.environ) -> None:
    """Point boto3 at the embedded moto server with throw-away credentials."""
    environ["AWS_ENDPOINT_URL"] = endpoint
    environ["AWS_ACCESS_KEY_ID"] = "local"
    environ["AWS_SECRET_ACCESS_KEY"] = "local"  # noqa: S105 - moto accepts any
    environ["AWS_DEFAULT_REGION"] = LOCAL_REGION
    environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
    environ.pop("AWS_PROFILE", None)
    environ.pop("AWS_SESSION_TOKEN", None)


def create_company(name: str, plan: str, email: str | None = None,
                   user_name: str | None = None) -> dict[str, Any]:
    """Create a company, its owner's user and the owner's first API key; the key is in
    the result, and nowhere else."""
    if email is not None:  # refused before anything is made
        api_users.new_user(email, api_users.OWNER, user_name)
    company = companies.create(name, plan)
    resource_store.seed_counts(company.company_id)  # before its owner, its first user
    issued, users_id = api_users.issue_key(
        company.company_id, email or f"api@company-{company.company_id}.invalid",
        api_users.OWNER, user_name)
    return {"company_id": company.company_id, "name": company.name, "plan": company.plan,
            "api_user": issued.api_user, "api_key": issued.api_key, "key_id": issued.key_id,
            "users_id": users_id}


def issue_key(company_id: int, email: str, role: str = api_users.WORKER,
              user_name: str | None = None) -> dict[str, Any]:
    """A new API key for ``email``, whose user is created if the company has none."""
    issued, users_id = api_users.issue_key(company_id, email, role, user_name)
    return {"company_id": issued.company_id, "api_user": issued.api_user,
            "api_key": issued.api_key, "key_id": issued.key_id, "users_id": users_id}


def kept_changes(event_file: str | None = None,
                 hide_seconds: int = 900) -> list[dict[str, Any]]:
    """What the fan-out's failure queue holds: one row per stream record kept there
    (reassembled when it was kept in parts) and one per other message (a range the
    stream mapping gave up on, an incomplete record). With ``event_file``, the kept
    records are written there as one Lambda event, the fan-out's input, to replay them.
    Every message read stays hidden for ``hide_seconds``, then comes back (it is never
    deleted here)."""
    from chalicelib import aws, settings
    from chalicelib.delivery import unreadable

    url = aws.queue_url(settings.get().fanout_failure_queue_name)
    texts: list[str] = []
    while True:
        messages = aws.sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                             VisibilityTimeout=hide_seconds,
                                             WaitTimeSeconds=1).get("Messages", [])
        if not messages:
            break
        texts += [message["Body"] for message in messages]
    records, notes = unreadable.records(texts)
    if event_file is not None:
        Path(event_file).write_text(json.dumps({"Records": records}), encoding="utf-8")
    return [{"kept_record": r.get("eventID"),
             "sequence_number": r.get("dynamodb", {}).get("SequenceNumber")}
            for r in records] + [{"note": note} for note in notes]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.admin",
                                     description="Manage companies, plans and API keys; "
                                                 "read the fan-out's failure queue.")
    parser.add_argument("--stage", default="prod",
                        help="stage whose tables to use when MOTO_PORT is unset")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-company",
                                 help="create a company, its owner's user and an API key")
    create.add_argument("--name", required=True)
    create.add_argument("--plan", required=True)
    create.add_argument("--email", help="the API user (default: a placeholder address)")
    create.add_argument("--user-name", help="the owner's name (default: the e-mail's local "
                                            "part)")
    commands.add_parser("list-companies", help="list every company")
    plan = commands.add_parser("set-plan", help="move a company to another plan")
    plan.add_argument("--company-id", type=int, required=True)
    plan.add_argument("--plan", required=True)
    issue = commands.add_parser("issue-key", help="issue a new API key (and make its user)")
    issue.add_argument("--company-id", type=int, required=True)
    issue.add_argument("--email", required=True)
    issue.add_argument("--role", choices=api_users.ROLES, default=api_users.WORKER,
                       help="the role of the user made for a new e-mail (default: worker)")
    issue.add_argument("--user-name", help="the name of the user made for a new e-mail "
                                           "(default: the e-mail's local part)")
    keys = commands.add_parser("list-keys", help="list an API user's keys (never the keys)")
    keys.add_argument("--email", required=True)
    revoke = commands.add_parser("revoke-key", help="revoke an API key")
    revoke.add_argument("--email", required=True)
    revoke.add_argument("--key-id", required=True)
    kept = commands.add_parser("kept-changes", help="list what the fan-out's failure queue "
                               "holds (each message is hidden for 15 minutes, not deleted)")
    kept.add_argument("--event", help="write the kept stream records, whole, to this file "
                      "as one Lambda event for the fan-out function")
    return parser


def _run(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.command == "create-company":
        return [create_company(args.name, args.plan, args.email, args.user_name)]
    if args.command == "list-companies":
        return [c.to_json() for c in companies.list_all()]
    if args.command == "set-plan":
        return [companies.set_plan(args.company_id, args.plan).to_json()]
    if args.command == "issue-key":
        return [issue_key(args.company_id, args.email, args.role, args.user_name)]
    if args.command == "list-keys":
        return auth.list_keys(args.email)
    if args.command == "kept-changes":
        return kept_changes(args.event)
    auth.revoke_key(args.email, args.key_id)
    return [{"success": True}]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    moto_port = os.environ.get("MOTO_PORT")
    stage = "dev" if moto_port else args.stage
    for name, value in stage_environment(stage).items():
        os.environ.setdefault(name, value)
    if moto_port:
        use_local_stack(f"http://127.0.0.1:{moto_port}")
    try:
        for row in _run(args):
            print(json.dumps(row), flush=True)
    except errors.ApiError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
