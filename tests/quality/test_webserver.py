"""The Dagster webserver, started for real on this code location, lists the assets and their
checks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures.project import REPO

QUERY = """
{
  assetNodes {
    assetKey { path }
    groupName
    internalFreshnessPolicy { __typename ... on TimeWindowFreshnessPolicy { failWindowSeconds } }
    metadataEntries { label ... on TableSchemaMetadataEntry { schema { columns { name type } } } }
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name blocking description } }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def webserver(project, tmp_path):
    """`dagster-webserver -w workspace.yaml` on a free port, against the tmp project."""
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": os.environ["DAGSTER_HOME"], "PYTHONPATH": str(REPO)}
    (Path(os.environ["DAGSTER_HOME"]) / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
    )
    log = open(tmp_path / "webserver.log", "wb")
    exe = Path(REPO / ".venv" / "bin" / "dagster-webserver")
    proc = subprocess.Popen(
        [
            str(exe if exe.exists() else "dagster-webserver"),
            "-w",
            str(REPO / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"dagster-webserver exited with {proc.returncode}:\n"
                    + (tmp_path / "webserver.log").read_text(errors="replace")[-3000:]
                )
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    "dagster-webserver did not answer within 180 s:\n"
                    + (tmp_path / "webserver.log").read_text(errors="replace")[-3000:]
                )
            time.sleep(1)
        yield url
    finally:
        # The webserver and the code server it started form their own session: stop them together.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    # The code location loads in a subprocess: retry while it is still starting.
    deadline = time.monotonic() + 120
    while True:
        with urllib.request.urlopen(request, timeout=60) as r:
            answer = json.loads(r.read())
        nodes = (answer.get("data") or {}).get("assetNodes")
        if nodes or time.monotonic() > deadline:
            return answer
        time.sleep(2)


def test_graphql_lists_assets_and_their_checks(webserver):
    answer = graphql(webserver, QUERY)
    assert "errors" not in answer, answer.get("errors")
    nodes = {"/".join(n["assetKey"]["path"]): n for n in answer["data"]["assetNodes"]}
    assert {
        "landed_file",
        "staged_rows",
        "contacts",
        "customers",
        "quality_metrics",
        "quality_report",
        "quality_alerts",
        "sources/crm",
        "sources/webshop",
        "segments/newsletter",
    } <= set(nodes)

    def checks(key: str) -> dict[str, bool]:
        result = nodes[key]["assetChecksOrError"]
        assert result["__typename"] == "AssetChecks", result
        return {c["name"]: c["blocking"] for c in result["checks"]}

    assert checks("landed_file") == {"file_not_empty": False, "required_columns_present": False}
    assert checks("contacts") == {
        "rejected_share": True,
        "rows_vs_previous_load": True,
        "validity_vs_previous_load": True,
        "fill_rate_vs_previous_load": False,
        "schema_drift": False,
    }
    assert checks("quality_metrics") == {"duplicate_rate_vs_previous_load": False}
    assert checks("sources/crm") == {"drop_on_time": False}
    # the freshness policy of a source: sources.yaml quality.expected_every_hours (default 26 h)
    assert nodes["sources/crm"]["internalFreshnessPolicy"] == {
        "__typename": "TimeWindowFreshnessPolicy",
        "failWindowSeconds": 26 * 3600,
    }
    assert (
        nodes["sources/privacy_requests"]["internalFreshnessPolicy"] is None
    )  # erasure requests: no rhythm
    assert nodes["sources/crm"]["groupName"] == "sources"

    def columns(key: str) -> list[str]:
        (entry,) = [
            e for e in nodes[key]["metadataEntries"] if e["label"] == "dagster/column_schema"
        ]
        return [c["name"] for c in entry["schema"]["columns"]]

    # the column schema of the warehouse tables behind the assets
    assert columns("quality_metrics") == [
        "load_id",
        "source",
        "metric",
        "field",
        "value",
        "measured_at",
    ]
    assert {"customer_id", "email", "email_status", "updated_at"} <= set(columns("customers"))
    assert {"email", "phone", "customer_id", "reason"} <= set(columns("suppressions"))
    assert {"source", "source_record_id", "email_status"} <= set(columns("contacts"))
