"""deploy/: the compose file against the compose specification's schema, the Kubernetes manifests with
``kubernetes-validate --strict``, and both against the mock's own settings and routes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockserver import cli

pytestmark = pytest.mark.processes

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
SETTINGS = {cli.env_name(a) for a in cli._parser()._actions if a.option_strings and a.dest not in ("help", "version")}


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: pip install -e '.[test]' installs it")
    return found


def _documents(path: Path) -> list[dict[str, Any]]:
    return [found for found in yaml.safe_load_all(path.read_text()) if found]


def test_the_compose_file_follows_the_compose_specification(tmp_path: Path) -> None:
    check = [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec"]
    done = subprocess.run([*check, str(DEPLOY / "compose.yaml")], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "compose.yaml"  # the check can fail: a misspelt field is refused
    broken.write_text((DEPLOY / "compose.yaml").read_text().replace("depends_on:", "depend_on:", 1))
    assert subprocess.run([*check, str(broken)], check=False, capture_output=True).returncode != 0


def test_the_compose_fleet_is_three_mocks_on_one_redis_behind_one_port() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mocks = sorted(name for name in compose["services"] if name.startswith("mock-"))
    assert mocks == ["mock-1", "mock-2", "mock-3"]
    for name in mocks:
        environment = compose["services"][name]["environment"]
        assert set(environment) <= SETTINGS, set(environment) - SETTINGS
        assert environment["MOCKSERVER_STORE"] == "redis://redis:6379/0"
        assert "/readyz" in " ".join(compose["services"][name]["healthcheck"]["test"])
    upstream = re.findall(r"server (mock-\d):8000;", (DEPLOY / "nginx.conf").read_text())
    assert upstream == mocks
    assert compose["services"]["balancer"]["ports"] == ["127.0.0.1:8000:8000"]


def test_the_kustomization_lists_every_manifest_and_each_passes_strict_validation() -> None:
    listed = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")
    command = [_tool("kubernetes-validate"), "--strict", "--kubernetes-version", "1.30.0"]
    done = subprocess.run(
        [*command, *(str(KUBERNETES / n) for n in listed)], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(" passed for resource ") == sum(len(_documents(KUBERNETES / n)) for n in listed)


def test_the_deployment_probes_the_health_routes_and_reads_its_secret_from_the_secret() -> None:
    listed = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"]
    kinds = {(d["kind"], d["metadata"]["name"]): d for name in listed for d in _documents(KUBERNETES / name)}
    deployment = kinds[("Deployment", "generations-mock")]["spec"]
    pod = deployment["template"]["spec"]
    [mock] = pod["containers"]
    assert deployment["replicas"] >= 2 and pod["enableServiceLinks"] is False
    assert mock["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert mock["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert mock["resources"]["requests"] and mock["resources"]["limits"]
    env = {e["name"]: e for e in mock["env"]}
    assert set(env) <= SETTINGS, set(env) - SETTINGS
    secret = kinds[("Secret", "generations-mock")]["stringData"]
    for name in ("MOCKSERVER_SECRET", "MOCKSERVER_ADMIN_KEY"):
        assert env[name]["valueFrom"]["secretKeyRef"]["key"] in secret
    redis = kinds[("Service", "generations-mock-redis")]["spec"]["ports"][0]["port"]
    assert env["MOCKSERVER_STORE"]["value"] == f"redis://generations-mock-redis:{redis}/0"
    assert pod["securityContext"]["runAsUser"] == 10001  # the Containerfile's USER
    assert ("PodDisruptionBudget", "generations-mock") in kinds and ("Service", "generations-mock") in kinds
