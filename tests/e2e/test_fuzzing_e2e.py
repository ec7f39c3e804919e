"""Schemathesis against the service's own OpenAPI document, on the local stack.

Its coverage, fuzzing and stateful phases (the last follows the document's links from a
create to the new item's operations) send a few thousand generated requests, valid and
invalid, with a fixed seed. The run fails on any 5xx and on any answer the document does
not describe: an undocumented status code or content type, or a body that breaks its
schema.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import APPLICATION, start_stack

SEED = 20261128
MIN_REQUESTS = 2000  # how many, per phase, is in schemathesis.toml
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance")
CONFIG = Path(__file__).with_name("schemathesis.toml")


def test_generated_requests_get_no_5xx_and_only_documented_answers(tmp_path: Path) -> None:
    # far above what a fuzzer sends: the per-user rate limit is not what is tested here
    stack = start_stack({"WEBHOOKS_RATE_LIMIT_PER_MINUTE": "1000000"})
    try:
        api = stack.api
        result = subprocess.run([
            str(Path(sys.executable).with_name("st")), "--no-color", "--config-file",
            str(CONFIG), "run", f"{api}/v2/openapi.json", "--url", api,
            "-H", f"X-ClockodoApiUser: {stack.ready['api_user']}",
            "-H", f"X-ClockodoApiKey: {stack.ready['api_key']}",
            "-H", f"X-Clockodo-External-Application: {APPLICATION}",
            "--phases", "coverage,fuzzing,stateful", "--checks", ",".join(CHECKS),
            "--seed", str(SEED), "--workers", "1",
            "--no-shrink", "--request-timeout", "30",
        ], cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    finally:
        stack.stop()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:]
    generated = re.search(r"(\d+) generated", output)
    assert generated is not None, output[-3000:]
    assert int(generated.group(1)) >= MIN_REQUESTS, output[-3000:]
