"""Offline validation of deploy/: the Kubernetes manifests against the official Kubernetes JSON
schemas (PyPI `kubernetes-validate`, schemas vendored in the package, pinned Kubernetes version),
the compose file against the compose-spec JSON schema vendored in deploy/schemas/ (and with
`docker compose config -q` where a compose binary exists), the Dockerfile parsed with
`dockerfile-parse`, the Milvus Helm values parsed — plus the cross-file facts no schema knows:
selectors that select, ports and probes that agree, env names that are real Settings fields,
a Secret template without secrets. No network is used."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

import bitrag_server
from bitrag.v1 import bitrag_pb2
from bitrag_server.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
COMPOSE = DEPLOY / "compose.yaml"
COMPOSE_SCHEMA = DEPLOY / "schemas" / "compose-spec.json"
MILVUS_VALUES = DEPLOY / "helm" / "milvus-values.yaml"

# The Kubernetes version the manifests are validated against (strict: unknown fields rejected).
K8S_VERSION = "1.32.0"
APP_UID = 10001
GRPC_PORT = 50051
METRICS_PORT = 9090
BITRAG_SERVICE = bitrag_pb2.DESCRIPTOR.services_by_name["BitragService"].full_name
SECRET_NAME = "bitrag-secrets"
# Environment variables that are not Settings fields but are read by a library bitrag uses.
THIRD_PARTY_ENV = {
    "GROQ_API_KEY": "read by the groq SDK (answer generation)",
    "OPENAI_API_KEY": "read by the openai SDK / the openai embedder's fallback",
}


# --- loading ---------------------------------------------------------------------------------------

def _yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def _manifests() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p in _manifest_files() for d in _yaml_docs(p)]


def _kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def _applied() -> list[dict[str, Any]]:
    """The documents kustomization.yaml applies."""
    return [d for res in _kustomization()["resources"] for d in _yaml_docs(K8S / res)]


def _one(kind: str, name: str, docs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    found = [d for d in (docs if docs is not None else _applied())
             if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name} among the applied manifests, found {len(found)}"
    return found[0]


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return workload["spec"]["template"]["spec"]["containers"]


def _bitrag_container() -> dict[str, Any]:
    (c,) = [c for c in _containers(_one("Deployment", "bitrag")) if c["name"] == "bitrag"]
    return c


def _ports_by_name(container: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container.get("ports", [])}


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _env_names_of_settings() -> dict[str, str]:
    """Upper-cased environment variable name -> Settings field, as pydantic-settings resolves them
    (env_prefix + field name, or the field's validation alias(es))."""
    prefix = Settings.model_config.get("env_prefix", "")
    names: dict[str, str] = {}
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        choices: list[str] = []
        if isinstance(alias, str):
            choices = [alias]
        elif alias is not None and hasattr(alias, "choices"):
            choices = [c for c in alias.choices if isinstance(c, str)]
        for env in choices or [f"{prefix}{field}"]:
            names[env.upper()] = field
    return names


def _check_env_names(names: list[str], where: str) -> None:
    known = _env_names_of_settings()
    bad = []
    for name in names:
        if name.upper().startswith("BITRAG_"):
            if name.upper() not in known:
                bad.append(f"{name} (no Settings field)")
        elif name not in THIRD_PARTY_ENV:
            bad.append(f"{name} (not BITRAG_* and not a known library variable)")
    assert not bad, f"{where}: unknown environment variables: {bad}; Settings fields: {sorted(known)}"


# --- Kubernetes: schema --------------------------------------------------------------------------------

MANIFEST_IDS = [f"{p.name}:{d['kind']}/{d['metadata']['name']}" for p, d in _manifests()]


def test_manifest_inventory() -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for _, d in _manifests()}
    for expected in [
        ("Deployment", "bitrag"), ("Service", "bitrag"), ("HorizontalPodAutoscaler", "bitrag"),
        ("PodDisruptionBudget", "bitrag"), ("ConfigMap", "bitrag-config"), ("Secret", SECRET_NAME),
        ("PersistentVolumeClaim", "bitrag-data"), ("Deployment", "bitrag-redis"), ("Service", "bitrag-redis"),
    ]:
        assert expected in kinds, f"missing {expected[0]}/{expected[1]} in deploy/k8s"


@pytest.mark.parametrize("path_doc", _manifests(), ids=MANIFEST_IDS)
def test_manifest_matches_kubernetes_schema(path_doc: tuple[Path, dict[str, Any]]) -> None:
    path, doc = path_doc
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        loc = "/".join(str(x) for x in exc.path)
        pytest.fail(f"{path.name} {doc['kind']}/{doc['metadata']['name']}: {loc}: {exc.message}")


def test_schema_validation_is_not_vacuous() -> None:
    """The same validator rejects what a cluster would reject: a misspelt field (strict), a wrong
    type, a missing required field."""
    good = _one("Deployment", "bitrag")
    kubernetes_validate.validate(good, K8S_VERSION, strict=True)

    typo = json.loads(json.dumps(good))
    typo["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    wrong_type = json.loads(json.dumps(good))
    wrong_type["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "50051"
    no_selector = json.loads(json.dumps(good))
    del no_selector["spec"]["selector"]
    for bad in (typo, wrong_type, no_selector):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


# --- Kubernetes: kustomization -------------------------------------------------------------------------

def test_kustomization_resources_exist_and_cover_every_manifest() -> None:
    k = _kustomization()
    assert k["apiVersion"] == "kustomize.config.k8s.io/v1beta1" and k["kind"] == "Kustomization"
    resources = k["resources"]
    assert len(resources) == len(set(resources)), "duplicate kustomization resources"
    for res in resources:
        assert (K8S / res).is_file(), f"kustomization resource {res} does not exist"
    listed = set(resources)
    for path in _manifest_files():
        if path.name.endswith(".example.yaml"):
            assert path.name not in listed, f"{path.name} is a template: applying it clobbers real values"
        else:
            assert path.name in listed, f"{path.name} is not listed in kustomization.yaml resources"
    # The namespace it applies into is one of its resources.
    ns = k.get("namespace")
    assert ns and any(d["kind"] == "Namespace" and d["metadata"]["name"] == ns for d in _applied())


def test_kustomization_image_names_the_bitrag_container_image() -> None:
    images = {i["name"]: i for i in _kustomization().get("images", [])}
    image = _bitrag_container()["image"]
    assert image in images, f"kustomization images: has no entry for the Deployment's image {image!r}"
    assert images[image]["newTag"] == bitrag_server.__version__, "image tag != the package version"


def _kubectl() -> str | None:
    return shutil.which("kubectl")


@pytest.mark.skipif(_kubectl() is None, reason="kubectl not installed (kustomize build)")
def test_kustomize_build_renders_valid_manifests() -> None:
    out = subprocess.run(
        [_kubectl(), "kustomize", str(K8S)], check=False, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert {(d["kind"], d["metadata"]["name"]) for d in docs} == {
        (d["kind"], d["metadata"]["name"]) for d in _applied()
    }
    ns = _kustomization()["namespace"]
    for d in docs:
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)
        if d["kind"] != "Namespace":
            assert d["metadata"].get("namespace") == ns, f"{d['kind']}/{d['metadata']['name']} not in {ns}"
    (dep,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "bitrag"]
    (img,) = [i for i in _kustomization()["images"] if i["name"] == "bitrag"]
    assert _containers(dep)[0]["image"] == f"{img['newName']}:{img['newTag']}"


# --- Kubernetes: cross-references ----------------------------------------------------------------------

def test_deployments_select_their_own_pods() -> None:
    for dep in [d for d in _applied() if d["kind"] == "Deployment"]:
        sel = dep["spec"]["selector"]["matchLabels"]
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert sel and _selects(sel, labels), f"Deployment/{dep['metadata']['name']}: selector misses pods"


def test_each_service_selects_exactly_one_deployment_and_its_ports() -> None:
    deployments = [d for d in _applied() if d["kind"] == "Deployment"]
    for svc in [d for d in _applied() if d["kind"] == "Service"]:
        name = svc["metadata"]["name"]
        matches = [d for d in deployments
                   if _selects(svc["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
        assert len(matches) == 1, f"Service/{name} selects {len(matches)} Deployments"
        ports: dict[str, int] = {}
        for c in _containers(matches[0]):
            ports.update(_ports_by_name(c))
        for sp in svc["spec"]["ports"]:
            tp = sp["targetPort"]
            if isinstance(tp, str):
                assert tp in ports, f"Service/{name} port {sp['name']}: no container port named {tp!r}"
                assert ports[tp] == sp["port"], f"Service/{name}: {tp} is {ports[tp]} in the pod"
            else:
                assert tp in ports.values(), f"Service/{name}: no container listens on {tp}"


def test_bitrag_services_speak_grpc_and_metrics() -> None:
    svc = _one("Service", "bitrag")
    assert svc["spec"].get("type", "ClusterIP") == "ClusterIP"
    by_name = {p["name"]: p for p in svc["spec"]["ports"]}
    assert by_name["grpc"]["port"] == GRPC_PORT and by_name["grpc"]["appProtocol"] == "grpc"
    assert by_name["metrics"]["port"] == METRICS_PORT


def test_pdb_and_hpa_target_the_bitrag_deployment() -> None:
    dep = _one("Deployment", "bitrag")
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    pdb = _one("PodDisruptionBudget", "bitrag")
    assert pdb["apiVersion"] == "policy/v1"
    assert _selects(pdb["spec"]["selector"]["matchLabels"], pod_labels)
    redis_labels = _one("Deployment", "bitrag-redis")["spec"]["template"]["metadata"]["labels"]
    assert not _selects(pdb["spec"]["selector"]["matchLabels"], redis_labels), "the PDB also covers redis"

    hpa = _one("HorizontalPodAutoscaler", "bitrag")
    assert hpa["apiVersion"] == "autoscaling/v2"
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["apiVersion"], ref["kind"], ref["name"]) == ("apps/v1", "Deployment", dep["metadata"]["name"])
    lo, hi = hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]
    assert lo <= dep["spec"]["replicas"] <= hi
    assert dep["spec"]["replicas"] == 2
    # A voluntary eviction must always be possible: minAvailable below the smallest replica count.
    assert pdb["spec"]["minAvailable"] == 1 < lo
    (cpu,) = [m for m in hpa["spec"]["metrics"] if m["type"] == "Resource" and m["resource"]["name"] == "cpu"]
    assert 0 < cpu["resource"]["target"]["averageUtilization"] <= 100
    # Utilization is relative to the request: without one the HPA cannot compute it.
    assert "cpu" in _bitrag_container()["resources"]["requests"]


def test_probes_are_native_grpc_on_the_grpc_port() -> None:
    c = _bitrag_container()
    ports = _ports_by_name(c)
    assert ports == {"grpc": GRPC_PORT, "metrics": METRICS_PORT}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert "grpc" in c[probe], f"{probe} is not a native gRPC probe"
        assert c[probe]["grpc"]["port"] == ports["grpc"], f"{probe} port != the grpc container port"
        # Health service names the server registers: "" and bitrag.v1.BitragService.
        assert c[probe]["grpc"].get("service", "") in ("", BITRAG_SERVICE)
    assert c["readinessProbe"]["grpc"]["service"] == BITRAG_SERVICE


def test_configmap_matches_ports_and_annotations() -> None:
    cm = _one("ConfigMap", "bitrag-config")["data"]
    assert all(isinstance(v, str) for v in cm.values()), "ConfigMap values must be strings"
    ports = _ports_by_name(_bitrag_container())
    host, _, port = cm["BITRAG_ADDRESS"].rpartition(":")
    assert host == "0.0.0.0" and int(port) == ports["grpc"], "the server must listen on the pod IP, grpc port"
    assert int(cm["BITRAG_METRICS_PORT"]) == ports["metrics"]
    assert cm["BITRAG_METRICS_ADDRESS"] == "0.0.0.0"
    ann = _one("Deployment", "bitrag")["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true"
    assert int(ann["prometheus.io/port"]) == ports["metrics"]
    assert ann["prometheus.io/path"] == "/metrics"
    # Redis URL points at the Redis Service of these manifests.
    redis_svc = _one("Service", "bitrag-redis")
    m = re.fullmatch(r"redis://([^:/]+):(\d+)/\d+", cm["BITRAG_REDIS_URL"])
    assert m and m.group(1) == redis_svc["metadata"]["name"]
    assert int(m.group(2)) == redis_svc["spec"]["ports"][0]["port"]
    assert cm["BITRAG_MILVUS_URI"].startswith("http://") and cm["BITRAG_MILVUS_URI"].endswith(":19530")


def test_configmap_env_names_are_settings_fields() -> None:
    cm = _one("ConfigMap", "bitrag-config")["data"]
    _check_env_names(list(cm), "configmap.yaml")
    assert "BITRAG_MILVUS_TOKEN" not in cm and "GROQ_API_KEY" not in cm, "secrets belong in the Secret"


def test_configmap_values_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    cm = _one("ConfigMap", "bitrag-config")["data"]
    for k in list(os.environ):
        if k.upper().startswith("BITRAG_"):
            monkeypatch.delenv(k)
    for k, v in cm.items():
        monkeypatch.setenv(k, v)
    s = Settings(_env_file=None)  # raises on a value of the wrong type / outside its bounds
    known = _env_names_of_settings()
    for k, v in cm.items():
        if k in known:
            got = getattr(s, known[k])
            assert str(got) == v or str(getattr(got, "value", got)) == v or float(v) == got, (k, v, got)
    assert not s.is_milvus_lite, "replicas must share a Milvus server, not a Milvus Lite file"


def test_secret_is_a_template_without_secrets() -> None:
    secret = _one("Secret", SECRET_NAME, [d for _, d in _manifests()])
    assert SECRET_NAME not in {d["metadata"]["name"] for d in _applied() if d["kind"] == "Secret"}
    assert "data" not in secret, "use stringData placeholders, not base64 data"
    values = secret["stringData"]
    assert set(values) == {"BITRAG_MILVUS_TOKEN", "GROQ_API_KEY"}
    for k, v in values.items():
        assert v == "" or re.fullmatch(r"<[^>]*>|CHANGE[_-]?ME", v), f"{k} holds a value, not a placeholder"
    _check_env_names(list(values), "secret.example.yaml")

    # The Deployment reads exactly these keys, optionally (a missing Secret must not crash-loop a
    # Milvus without authorization), and from no other Secret.
    refs = {}
    for e in _bitrag_container().get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == SECRET_NAME and ref.get("optional") is True, e
            assert e["name"] == ref["key"], e
            refs[ref["key"]] = e["name"]
    assert set(refs) == set(values)


SECRET_PATTERNS = {
    "Groq key": re.compile(r"gsk_[A-Za-z0-9]{20,}"),
    "OpenAI key": re.compile(r"sk-[A-Za-z0-9_-]{20,}"),
    "AWS key id": re.compile(r"AKIA[0-9A-Z]{16}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "GitHub token": re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"),
}


def test_no_secret_material_anywhere_in_deploy() -> None:
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file() or path.parent.name == "schemas":
            continue
        text = path.read_text(errors="replace")
        for what, pat in SECRET_PATTERNS.items():
            assert not pat.search(text), f"{path.relative_to(ROOT)} contains what looks like a {what}"


def test_pods_run_restricted() -> None:
    for dep in [d for d in _applied() if d["kind"] == "Deployment"]:
        name = dep["metadata"]["name"]
        pod = dep["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        assert psc.get("runAsNonRoot") is True, name
        assert psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        for c in pod["containers"]:
            sc = c.get("securityContext", {})
            assert sc.get("allowPrivilegeEscalation") is False, (name, c["name"])
            assert sc.get("readOnlyRootFilesystem") is True, (name, c["name"])
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], (name, c["name"])
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(res.get(part, {})), f"{name}/{c['name']}: {part} incomplete"
            # With a read-only root filesystem every path the process writes is a volume.
            vols = {v["name"]: v for v in pod.get("volumes", [])}
            for m in c.get("volumeMounts", []):
                assert m["name"] in vols, f"{name}: mount of undeclared volume {m['name']}"


def test_bitrag_pod_user_and_volumes_match_the_image() -> None:
    dep = _one("Deployment", "bitrag")
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == APP_UID == _dockerfile_final_uid()
    assert pod["securityContext"]["fsGroup"] == APP_UID
    vols = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in _bitrag_container()["volumeMounts"]}
    assert "/tmp" in mounts and "emptyDir" in vols[mounts["/tmp"]], "HOME/caches need a writable /tmp"
    data = vols[mounts["/data"]]
    pvc = _one("PersistentVolumeClaim", data["persistentVolumeClaim"]["claimName"])
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"], "every replica mounts the float32 rows"
    cm = _one("ConfigMap", "bitrag-config")["data"]
    assert cm["BITRAG_DATA_DIR"] == "/data"


def test_graceful_shutdown_fits_the_termination_grace_period() -> None:
    pod = _one("Deployment", "bitrag")["spec"]["template"]["spec"]
    grace = float(_one("ConfigMap", "bitrag-config")["data"].get(
        "BITRAG_SHUTDOWN_GRACE_S", Settings.model_fields["shutdown_grace_s"].default))
    pre_stop = _bitrag_container().get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    assert pod["terminationGracePeriodSeconds"] >= grace + pre_stop + 5


# --- compose -------------------------------------------------------------------------------------------

def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _compose_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_compose_matches_compose_spec_schema() -> None:
    errors = sorted(_compose_validator().iter_errors(_compose()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_compose_schema_check_is_not_vacuous() -> None:
    v = _compose_validator()
    bad = _compose()
    bad["services"]["bitrag"]["healthchek"] = bad["services"]["bitrag"].pop("healthcheck")
    assert list(v.iter_errors(bad))
    bad = _compose()
    bad["services"]["bitrag"]["depends_on"]["redis"]["condition"] = "service_ready"
    assert list(v.iter_errors(bad))


def test_compose_wiring() -> None:
    c = _compose()
    services = c["services"]
    assert {"etcd", "minio", "milvus-standalone", "redis", "bitrag"} <= set(services)
    assert services["milvus-standalone"]["image"].startswith("milvusdb/milvus:v2.5.")
    b = services["bitrag"]
    assert (COMPOSE.parent / b["build"]["context"]).resolve() == ROOT
    assert (ROOT / b["build"]["dockerfile"]).resolve() == DOCKERFILE
    env = b["environment"]
    assert isinstance(env, dict)
    _check_env_names(list(env), "compose.yaml bitrag")
    assert env["BITRAG_MILVUS_URI"] == "http://milvus-standalone:19530"
    assert env["BITRAG_REDIS_URL"] == "redis://redis:6379/0"
    host, _, port = env["BITRAG_ADDRESS"].rpartition(":")
    assert host == "0.0.0.0" and int(port) == GRPC_PORT
    # Secrets come from the caller's environment, never literals.
    for key in ("BITRAG_MILVUS_TOKEN", "GROQ_API_KEY"):
        assert re.fullmatch(r"\$\{" + key + r"(:-)?\}", env[key]), f"{key} must be interpolated"
    # depends_on waits for health, and each dependency has a healthcheck to wait for.
    for dep_name, dep in b["depends_on"].items():
        assert dep["condition"] == "service_healthy", dep_name
        assert "healthcheck" in services[dep_name], f"{dep_name} has no healthcheck"
    for dep_name in services["milvus-standalone"]["depends_on"]:
        assert "healthcheck" in services[dep_name]
    assert any("bitrag_server.healthcheck" in str(x) for x in b["healthcheck"]["test"])
    # /data on a named volume; gRPC and metrics published.
    vols = [v for v in b["volumes"] if isinstance(v, str)]
    assert any(v.split(":")[1] == "/data" and v.split(":")[0] in c["volumes"] for v in vols)
    published = {p.rsplit(":", 1)[-1] for p in b["ports"]}
    assert {str(GRPC_PORT), str(METRICS_PORT)} <= published
    assert b["image"].endswith(":" + bitrag_server.__version__ + "}") or b["image"].endswith(
        ":" + bitrag_server.__version__)


# --- Dockerfile ------------------------------------------------------------------------------------------

def _dockerfile() -> DockerfileParser:
    # Read-only: assigning `.content` would write a Dockerfile into the working directory.
    return DockerfileParser(fileobj=io.BytesIO(DOCKERFILE.read_bytes()))


def _final_stage(df: DockerfileParser) -> list[dict[str, Any]]:
    instrs = df.structure
    last_from = max(i for i, ins in enumerate(instrs) if ins["instruction"] == "FROM")
    return instrs[last_from:]


def _dockerfile_final_uid() -> int:
    (user,) = [i["value"] for i in _final_stage(_dockerfile()) if i["instruction"] == "USER"][-1:]
    uid = user.split(":")[0]
    assert uid.isdigit(), "USER should be a numeric uid (Kubernetes runAsNonRoot checks numbers)"
    return int(uid)


def test_dockerfile_parses_and_is_multi_stage() -> None:
    df = _dockerfile()
    froms = [i["value"] for i in df.structure if i["instruction"] == "FROM"]
    assert len(froms) >= 2, "expected a build stage and a runtime stage"
    args = {}
    for i in df.structure:
        if i["instruction"] == "ARG" and "=" in i["value"]:
            k, v = i["value"].split("=", 1)
            args[k] = v
    bases = {f.split()[0].replace("${PYTHON_IMAGE}", args.get("PYTHON_IMAGE", "")) for f in froms}
    assert bases == {"python:3.11-slim"}, bases
    assert froms[-1].split()[-1] == "runtime"
    assert any("--from=build" in i["value"] for i in _final_stage(df) if i["instruction"] == "COPY")


def test_dockerfile_installs_cpu_torch_then_the_project() -> None:
    df = _dockerfile()
    runs = [i["value"] for i in df.structure if i["instruction"] == "RUN"]
    text = " ".join(runs)
    args = dict(
        i["value"].split("=", 1) for i in df.structure if i["instruction"] == "ARG" and "=" in i["value"]
    )
    assert args.get("TORCH_VERSION") == "2.13.0"
    assert args.get("TORCH_INDEX_URL") == "https://download.pytorch.org/whl/cpu"
    assert '"torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"' in text
    torch_at = text.index("torch==")
    proj_at = text.index('".[server,local]"')
    assert torch_at < proj_at, "torch (CPU wheel) must be installed before the project"


def test_dockerfile_copies_only_what_exists_and_is_not_ignored() -> None:
    ignore = [ln.strip() for ln in DOCKERIGNORE.read_text().splitlines()
              if ln.strip() and not ln.startswith("#")]
    assert ignore[0] == "*", "allow-list ignore file expected"
    allowed = {ln[1:].rstrip("/") for ln in ignore if ln.startswith("!")}
    for ins in _dockerfile().structure:
        if ins["instruction"] != "COPY" or "--from=" in ins["value"]:
            continue
        *sources, _dest = ins["value"].split()
        for src in sources:
            src = src.rstrip("/")
            assert (ROOT / src).exists(), f"COPY {src}: not in the repository root (the build context)"
            assert src.split("/")[0] in allowed, f"COPY {src}: excluded by {DOCKERIGNORE.name}"
    # What `pip install .` needs from the context.
    assert {"pyproject.toml", "README.md", "client", "server"} <= allowed


def test_dockerfile_runtime_stage() -> None:
    final = _final_stage(_dockerfile())

    def values(name: str) -> list[str]:
        return [i["value"] for i in final if i["instruction"] == name]

    assert _dockerfile_final_uid() == APP_UID != 0
    assert values("WORKDIR")
    assert any("/data" in v for v in values("VOLUME"))
    exposed = {p for v in values("EXPOSE") for p in v.split()}
    assert {str(GRPC_PORT), str(METRICS_PORT)} <= exposed
    env_text = " ".join(values("ENV"))
    for kv in (f"BITRAG_ADDRESS=0.0.0.0:{GRPC_PORT}", "BITRAG_DATA_DIR=/data",
               f"BITRAG_METRICS_PORT={METRICS_PORT}", "BITRAG_METRICS_ADDRESS=0.0.0.0"):
        assert kv in env_text, kv
    env_names = re.findall(r"\b(BITRAG_[A-Z0-9_]+)=", env_text)
    _check_env_names(env_names, "Dockerfile ENV")
    (hc,) = values("HEALTHCHECK")
    assert "CMD" in hc and "bitrag_server.healthcheck" in hc
    (ep,) = values("ENTRYPOINT")
    assert json.loads(ep) == ["bitrag", "serve"]
    # The non-root user owns the data directory it writes.
    assert any("-o 10001" in v and "/data" in v for v in values("RUN"))


def test_healthcheck_module_is_importable() -> None:
    from bitrag_server import healthcheck

    assert callable(healthcheck.main)


# --- Milvus Helm values ----------------------------------------------------------------------------------

def test_milvus_helm_values() -> None:
    v = yaml.safe_load(MILVUS_VALUES.read_text())
    assert v["cluster"]["enabled"] is True
    user = yaml.safe_load(v["extraConfigFiles"]["user.yaml"])
    assert user["common"]["security"]["authorizationEnabled"] is True
    qn = v["queryNode"]
    assert qn["replicas"] >= 2
    for part in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(qn["resources"][part]), part
    # Exactly one message queue.
    mqs = [k for k in ("pulsarv3", "pulsar", "kafka", "woodpecker") if v.get(k, {}).get("enabled")]
    assert len(mqs) == 1, mqs
    assert v["etcd"]["enabled"] and v["minio"]["enabled"]
    # The same Milvus line as the compose file.
    tag = v["image"]["all"]["tag"]
    compose_tag = _compose()["services"]["milvus-standalone"]["image"].split(":")[1]
    assert tag.rsplit(".", 1)[0] == compose_tag.rsplit(".", 1)[0] == "v2.5"
    # The release/namespace the values document give the host the ConfigMap points at.
    uri_host = _one("ConfigMap", "bitrag-config")["data"]["BITRAG_MILVUS_URI"].split("//")[1].split(":")[0]
    assert uri_host in MILVUS_VALUES.read_text()
