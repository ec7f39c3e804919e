"""Every Lambda function's prod policy, proven both ways against the AWS calls the function
made while the integration and end-to-end tests ran (moto checks no IAM; AWS does).

The calls were recorded by ``local/aws_calls.py`` (in this process and in every local
stack the tests started); the test stage's table and queue names are mapped to prod's.
This test runs after every other one, and only when both layers ran in this session.
"""
from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest

from local import aws_calls, iam
from tests.conftest import RECORDING_LAYERS, ROOT, collected_layers

FUNCTIONS = {  # Chalice's function name → its logical id in the template
    "api_handler": "APIHandler",
    "fan_out_changes": "FanOutChanges",
    "deliver_notifications": "DeliverNotifications",
    "deliver_bursts": "DeliverBursts",
    "deliver_to_failing_endpoints": "DeliverToFailingEndpoints",
    "record_dead_letters": "RecordDeadLetters",
    "run_recoveries": "RunRecoveries",
}


def _config() -> dict[str, Any]:
    return dict(json.loads((ROOT / ".chalice" / "config.json").read_text()))


def _policy(function: str) -> dict[str, Any]:
    name = _config()["stages"]["prod"]["lambda_functions"][function]["iam_policy_file"]
    return dict(json.loads((ROOT / ".chalice" / name).read_text()))


def _prefixes() -> tuple[str, str]:
    stages = _config()["stages"]
    return (stages["dev"]["environment_variables"]["WEBHOOKS_TABLE_PREFIX"],
            stages["prod"]["environment_variables"]["WEBHOOKS_TABLE_PREFIX"])


def _recorded() -> dict[str, set[tuple[str, str]]]:
    import os

    dev, prod = _prefixes()
    calls: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for call in aws_calls.read(os.environ[aws_calls.ENVIRONMENT_VARIABLE]):
        calls[call["function"]].add((call["action"], call["resource"].replace(dev, prod)))
    return calls


@pytest.mark.after_all
def test_every_function_is_allowed_exactly_the_aws_calls_it_makes(
        request: pytest.FixtureRequest, packaged: dict[str, Any]) -> None:
    missing = set(RECORDING_LAYERS) - collected_layers(request.config)
    if missing:
        pytest.skip(f"the IAM check needs the AWS calls of the {' and '.join(sorted(missing))} "
                    "tests, which this session does not run (run the whole suite)")
    calls = _recorded()
    assert set(calls) == set(FUNCTIONS), "a function made no recorded call at all"
    _, prod = _prefixes()
    resources = packaged["Resources"]
    problems = []
    for function, logical in FUNCTIONS.items():
        grants = iam.grants(_policy(function))
        needed = iam.mapping_grants(resources[logical], resources, {"TablePrefix": prod},
                                    aws_calls.REGION, aws_calls.ACCOUNT)
        problems += iam.denied(function, calls[function], grants)
        problems += iam.unused(function, calls[function], grants, needed)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_has_a_policy_file_of_its_own(function: str) -> None:
    files = [settings["iam_policy_file"]
             for settings in _config()["stages"]["prod"]["lambda_functions"].values()]
    assert files.count(_config()["stages"]["prod"]["lambda_functions"][function][
        "iam_policy_file"]) == 1
