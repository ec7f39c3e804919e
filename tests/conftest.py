"""Fixtures shared by every layer of tests, and the recording of AWS calls for the IAM
test (``tests/test_iam_policies.py``, which runs after every other test)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from local import aws_calls  # noqa: E402
from tests.receivers import Receiver  # noqa: E402

#: The layers whose recorded AWS calls the IAM test needs (it skips without them).
RECORDING_LAYERS = ("integration", "e2e")
_layers = pytest.StashKey[set[str]]()


def pytest_configure(config: pytest.Config) -> None:
    """Every AWS call a Lambda function makes in this session, in the pytest process and
    in the local stacks it starts (they inherit the variable), goes to one new file."""
    handle, path = tempfile.mkstemp(prefix="aws-calls-", suffix=".jsonl")
    os.close(handle)
    os.environ[aws_calls.ENVIRONMENT_VARIABLE] = path
    config.addinivalue_line("markers", "after_all: runs after every other test")


def pytest_unconfigure(config: pytest.Config) -> None:
    path = os.environ.pop(aws_calls.ENVIRONMENT_VARIABLE, None)
    if path and os.path.exists(path):
        os.unlink(path)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("after_all") is not None)
    config.stash[_layers] = {layer for item in items for layer in RECORDING_LAYERS
                             if f"tests/{layer}/" in item.nodeid}


def collected_layers(config: pytest.Config) -> set[str]:
    """Which of the recording layers this session runs."""
    return config.stash.get(_layers, set())


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The deployable template of the prod stage, as `chalice package` makes it."""
    out = tmp_path_factory.mktemp("package")
    chalice = Path(sys.executable).with_name("chalice")
    subprocess.run([str(chalice), "package", "--stage", "prod", "--merge-template",
                    "infra/template.json", str(out)], cwd=ROOT, check=True,
                   capture_output=True, env={**os.environ, "AWS_DEFAULT_REGION": "eu-central-1"})
    return dict(json.loads((out / "sam.json").read_text()))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook endpoint on loopback that answers 200."""
    endpoint = Receiver().start()
    yield endpoint
    endpoint.stop()
