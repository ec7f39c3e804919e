"""`chalice package --merge-template` yields one deployable template with everything in it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.infra import table_definitions
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("package")
    chalice = Path(sys.executable).with_name("chalice")
    subprocess.run([str(chalice), "package", "--stage", "prod", "--merge-template",
                    "infra/template.json", str(out)], cwd=ROOT, check=True,
                   capture_output=True, env={**os.environ, "AWS_DEFAULT_REGION": "eu-central-1"})
    return json.loads((out / "sam.json").read_text())


def test_the_template_has_the_tables_the_local_stack_creates(packaged: dict[str, Any]) -> None:
    tables = {r["Properties"]["TableName"]["Fn::Sub"].replace("${TablePrefix}", "p"): r
              for r in packaged["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"}
    local = {definition["TableName"]: definition for definition, _ in table_definitions("p")}
    assert set(tables) == set(local) == {"p-counters", "p-companies", "p-api_keys",
                                         "p-webhooks"}
    for name, definition in local.items():
        properties = tables[name]["Properties"]
        assert properties["KeySchema"] == definition["KeySchema"]
        assert properties.get("GlobalSecondaryIndexes") == \
            definition.get("GlobalSecondaryIndexes")
    (index,) = tables["p-webhooks"]["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "active_by_event"


def test_each_function_has_an_explicit_least_privilege_policy(packaged: dict[str, Any]) -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert config["autogen_policy"] is False
    role = packaged["Resources"]["ApiHandlerRole"]
    (policy,) = role["Properties"]["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    actions = {a for s in statements for a in s["Action"]}
    assert "dynamodb:*" not in actions and "dynamodb:Scan" not in actions
    resources = {r for s in statements if s["Sid"] != "Logs"
                 for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
    assert all(r.startswith("arn:aws:dynamodb:*:*:table/clockodo-webhooks-prod-")
               for r in resources)


def test_api_gateway_errors_use_the_error_format(packaged: dict[str, Any]) -> None:
    responses = packaged["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        template = responses[kind]["ResponseTemplates"]["application/json"]
        assert template.startswith('{"errors": [{"type": ')
