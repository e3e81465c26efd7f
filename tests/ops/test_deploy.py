"""deploy/: the Kubernetes manifests validate offline against the Kubernetes JSON schemas shipped
in the kubernetes-validate package (strict: unknown fields are errors), and hang together (labels,
names, probes, security, settings); compose.yaml and nginx.conf describe two replicas on one
PostgreSQL behind the load balancer. Nothing is downloaded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "deploy" / "kubernetes" / "base"
COMPOSE = REPO / "deploy" / "compose"
K8S_VERSION = "1.30.0"  # oldest Kubernetes the manifests target (HPA v2, PDB v1, Job TTL all GA)


def _documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _manifests() -> dict[str, dict]:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    docs = {}
    for name in kustomization["resources"]:
        for doc in _documents(BASE / name):
            docs[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return docs


def test_kustomization_lists_every_manifest_in_the_base() -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    on_disk = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk


@pytest.mark.parametrize("name", sorted(p.name for p in BASE.glob("*.yaml") if p.name != "kustomization.yaml"))
def test_manifest_is_valid_kubernetes(name: str) -> None:
    import kubernetes_validate

    for doc in _documents(BASE / name):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_a_broken_manifest_is_caught() -> None:
    """The validation above can fail: a misspelt field and a wrong type are both errors."""
    import kubernetes_validate

    deployment = _manifests()["Deployment/derm3r"]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_the_expected_objects_are_there() -> None:
    kinds = {key.split("/")[0] for key in _manifests()}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Job", "Secret", "ConfigMap", "ServiceAccount"} <= kinds


def test_deployment_probes_security_and_resources() -> None:
    docs = _manifests()
    pod = docs["Deployment/derm3r"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    for c in pod["containers"] + pod["initContainers"]:
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    # Writable places on a read-only root: /tmp and the metrics directory, both emptyDir.
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    config = docs["ConfigMap/derm3r-config"]["data"]
    assert {"/tmp", config["PROMETHEUS_MULTIPROC_DIR"]} <= mounts
    # The trust file comes from the Secret, at the path the settings name.
    volumes = {v["name"]: v for v in pod["volumes"]}
    trust_mount = next(m for m in container["volumeMounts"] if m["name"] == "trust")
    assert volumes["trust"]["secret"]["secretName"] == docs["Secret/derm3r-trusted-issuers"]["metadata"]["name"]
    secret_key = next(iter(docs["Secret/derm3r-trusted-issuers"]["stringData"]))
    assert config["DERM3R_TRUSTED_ISSUERS"] == f"{trust_mount['mountPath']}/{secret_key}"
    # The database URL is a secret, never in the ConfigMap.
    assert "DERM3R_DATABASE_URL" not in config
    assert container["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "derm3r-db-app"
    # Migrations run in the Job; the pods wait for them.
    assert docs["Job/derm3r-db-upgrade"]["spec"]["template"]["spec"]["containers"][0]["command"] == ["derm3r", "db", "upgrade"]
    assert pod["initContainers"][0]["command"] == ["derm3r", "db", "check"]
    # The metrics port matches the setting.
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == int(config["DERM3R_METRICS_PORT"])


def test_selectors_and_targets_agree() -> None:
    docs = _manifests()
    labels = docs["Deployment/derm3r"]["spec"]["template"]["metadata"]["labels"]
    assert docs["Deployment/derm3r"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert docs["Service/derm3r"]["spec"]["selector"].items() <= labels.items()
    assert docs["PodDisruptionBudget/derm3r"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert docs["NetworkPolicy/derm3r"]["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    target = docs["HorizontalPodAutoscaler/derm3r"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "derm3r")
    assert docs["HorizontalPodAutoscaler/derm3r"]["spec"]["minReplicas"] >= 2  # availability
    assert docs["PodDisruptionBudget/derm3r"]["spec"]["minAvailable"] >= 1


def test_network_policy_egress_is_dns_database_and_fhir_only() -> None:
    policy = _manifests()["NetworkPolicy/derm3r"]["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    ports = sorted(p["port"] for rule in policy["egress"] for p in rule["ports"])
    assert ports == [53, 53, 443, 5432]
    postgres = yaml.safe_load((REPO / "deploy/kubernetes/postgres/cloudnative-pg.yaml").read_text())
    db_rule = next(r for r in policy["egress"] if r["ports"][0]["port"] == 5432)
    assert db_rule["to"][0]["podSelector"]["matchLabels"] == {"cnpg.io/cluster": postgres["metadata"]["name"]}
    # CloudNativePG names the application Secret <cluster>-app: the one the pods read.
    assert f"{postgres['metadata']['name']}-app" == "derm3r-db-app"


def test_every_setting_in_the_manifests_exists() -> None:
    readme = (REPO / "README.md").read_text()
    known = set(re.findall(r"`(DERM3R_[A-Z_]+)`", readme)) | {"PROMETHEUS_MULTIPROC_DIR"}
    config = _manifests()["ConfigMap/derm3r-config"]["data"]
    assert set(config) <= known, set(config) - known
    compose = yaml.safe_load((COMPOSE / "compose.yaml").read_text())
    assert set(compose["x-derm3r"]["environment"]) <= known


def test_compose_runs_two_replicas_on_one_postgres_behind_nginx() -> None:
    compose = yaml.safe_load((COMPOSE / "compose.yaml").read_text())  # merges the x-derm3r anchor
    services = compose["services"]
    replicas = [name for name, s in services.items() if s.get("command", [""])[0] == "gunicorn"]
    assert sorted(replicas) == ["derm3r-a", "derm3r-b"]
    urls = {services[r]["environment"]["DERM3R_DATABASE_URL"] for r in replicas}
    assert len(urls) == 1 and "@db:5432/" in urls.pop()
    assert services["migrate"]["command"] == ["derm3r", "db", "upgrade"]
    assert all(services[r]["depends_on"]["migrate"]["condition"] == "service_completed_successfully" for r in replicas)
    assert all(services[r]["read_only"] is True for r in replicas)
    nginx = (COMPOSE / "nginx.conf").read_text()
    assert sorted(re.findall(r"server (derm3r-[ab]):8080", nginx)) == replicas
    assert "lb" in services and services["lb"]["depends_on"].keys() == set(replicas)
