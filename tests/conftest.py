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
#: A file the AWS calls go to instead of a temporary one, kept after the session: `make
#: test` runs the tests in parallel (pytest-xdist) into it, then the IAM test on its own
#: once they have all ended. Beside it, ``<file>.layers`` names the layers collected.
HANDED_LOG = "TESTS_AWS_CALL_LOG"
#: Files that take minutes, which pytest-xdist's workers start with (`make test` runs
#: with --no-loadscope-reorder: the files in this order, not the most tests first).
LONGEST_FIRST = ("tests/e2e/test_fuzzing_e2e.py", "tests/integration/test_hostile_input.py")
_layers = pytest.StashKey[set[str]]()
_own_log = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Every AWS call a Lambda function makes in this session, in the pytest process and
    in the local stacks it starts (they inherit the variable), goes to one file: a new
    one, or the one ``TESTS_AWS_CALL_LOG`` names; pytest-xdist's workers use their
    controller's."""
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        path = worker[aws_calls.ENVIRONMENT_VARIABLE]
    elif os.environ.get(HANDED_LOG):
        path = os.path.abspath(os.environ[HANDED_LOG])
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).touch()
    else:
        handle, path = tempfile.mkstemp(prefix="aws-calls-", suffix=".jsonl")
        os.close(handle)
        config.stash[_own_log] = path
    os.environ[aws_calls.ENVIRONMENT_VARIABLE] = path
    config.addinivalue_line("markers", "after_all: runs after every other test")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """(pytest-xdist) A worker records to its controller's file."""
    node.workerinput[aws_calls.ENVIRONMENT_VARIABLE] = os.environ[
        aws_calls.ENVIRONMENT_VARIABLE]


def pytest_unconfigure(config: pytest.Config) -> None:
    path = os.environ.pop(aws_calls.ENVIRONMENT_VARIABLE, None)
    if path and path == config.stash.get(_own_log, None) and os.path.exists(path):
        os.unlink(path)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("after_all") is not None)
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: item.nodeid.split("::")[0] not in LONGEST_FIRST)
    layers = {layer for item in items for layer in RECORDING_LAYERS
              if f"tests/{layer}/" in item.nodeid}
    config.stash[_layers] = layers
    if os.environ.get(HANDED_LOG) and layers:
        with open(os.environ[aws_calls.ENVIRONMENT_VARIABLE] + ".layers", "a",
                  encoding="utf-8") as out:
            out.write("".join(f"{layer}\n" for layer in sorted(layers)))
    if hasattr(config, "workerinput"):
        # the other workers may still be making calls when this one gets to it
        for item in items:
            if item.get_closest_marker("after_all") is not None:
                item.add_marker(pytest.mark.skip(
                    reason="runs after every other test, which pytest-xdist's workers "
                    "cannot promise: `make test` runs it on its own afterwards"))


def collected_layers(config: pytest.Config) -> set[str]:
    """Which of the recording layers this session runs (with ``TESTS_AWS_CALL_LOG``: or
    a session before it ran, recording into the same file)."""
    layers = set(config.stash.get(_layers, set()))
    handed = os.environ.get(aws_calls.ENVIRONMENT_VARIABLE, "") + ".layers"
    if os.environ.get(HANDED_LOG) and os.path.exists(handed):
        layers |= set(Path(handed).read_text(encoding="utf-8").split())
    return layers


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
