"""`logwarden deploy render`: every target renders files that their own tools accept."""
from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from click.testing import CliRunner

from logwarden.cli import cli
from logwarden.config import load
from logwarden.deploy.render import TARGETS


def render(tmp_path, target: str, config: str | None = None):
    out = tmp_path / target
    args = ["-c", str(config)] if config else []
    res = CliRunner().invoke(cli, ["deploy", "render", "--target", target, "--out", str(out), *args])
    assert res.exit_code == 0, res.output
    # the rendered config is itself valid for every stage
    load(out / "logwarden.yml")
    return out


def test_compose_runs_kafka_elasticsearch_and_every_stage(tmp_path):
    out = render(tmp_path, "compose")
    assert sorted(p.name for p in out.iterdir()) == ["docker-compose.yml", "logwarden.yml"]
    doc = yaml.safe_load((out / "docker-compose.yml").read_text())
    assert {"kafka", "elasticsearch", "parsers", "index", "rules", "metrics", "http"} <= set(doc["services"])
    cfg = load(tmp_path / "compose" / "logwarden.yml")
    assert cfg.kafka.bootstrap_servers == "kafka:9092" and cfg.index.type == "elasticsearch"
    for svc in doc["services"].values():
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), port


def test_k8s_manifests_parse_and_cover_the_stages(tmp_path):
    docs = list(yaml.safe_load_all((render(tmp_path, "k8s") / "logwarden.yaml").read_text()))
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("DaemonSet", "logwarden-agent") in kinds and ("Deployment", "logwarden-parsers") in kinds
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    assert yaml.safe_load(cm["data"]["logwarden.yml"])["kafka"]["bootstrap_servers"] == "kafka:9092"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is unavailable on this machine (optional check)")
def test_systemd_units_verify(tmp_path):
    out = render(tmp_path, "systemd")
    units = sorted(out.glob("*.service"))
    assert [u.name for u in units] == ["logwarden-agent.service", "logwarden-broker.service", "logwarden-http.service",
                                       "logwarden-ingest.service", "logwarden-worker@.service"]
    res = subprocess.run(["systemd-analyze", "verify", "--man=no", *map(str, units)], capture_output=True, text=True)
    problems = [l for l in res.stderr.splitlines() if "/opt/logwarden/bin/logwarden" not in l and "not executable" not in l]
    assert not problems, problems


def test_agent_installer_is_valid_shell(tmp_path):
    script = render(tmp_path, "agent-install") / "install-agent.sh"
    assert script.stat().st_mode & 0o111
    subprocess.run(["sh", "-n", str(script)], check=True)


def test_unknown_target_is_refused(tmp_path):
    res = CliRunner().invoke(cli, ["deploy", "render", "--target", "nomad", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "nomad" in res.output
    assert set(TARGETS) == {"systemd", "compose", "k8s", "agent-install"}


def test_an_operators_opensearch_index_is_kept_in_the_rendered_config(tmp_path):
    from logwarden.config import Config
    from logwarden.deploy.render import scaled_config

    cfg = Config.model_validate({"index": {"type": "opensearch", "elasticsearch_url": "https://os.example:9200"}})
    for target in ("compose", "k8s"):
        index = scaled_config(cfg, target)["index"]
        assert index == {"type": "opensearch", "elasticsearch_url": "https://os.example:9200"}, target
    assert scaled_config(Config(), "compose")["index"]["type"] == "elasticsearch"

# -- systemd: one user, one state directory, hardened units -------------------------------

def unit_settings(path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            k, _, v = line.partition("=")
            out.setdefault(k, []).append(v)
    return out


def test_systemd_units_share_one_system_user_and_state_directory(tmp_path):
    out = render(tmp_path, "systemd")
    for unit in out.glob("*.service"):
        s = unit_settings(unit)
        assert "DynamicUser" not in s, unit.name
        assert s["User"] == ["logwarden"] and s["Group"] == ["logwarden"], unit.name
        assert s["StateDirectory"] == ["logwarden"], unit.name
    assert load(out / "logwarden.yml").data_dir == "/var/lib/logwarden"


@pytest.mark.skipif(not (shutil.which("systemd-sysusers") and shutil.which("systemd-tmpfiles")),
                    reason="systemd-sysusers / systemd-tmpfiles are unavailable on this machine")
def test_sysusers_and_tmpfiles_snippets_create_the_user_and_its_directories(tmp_path):
    """The rendered snippets applied for real, to an empty root: the user exists once and owns
    the state directory; the configuration directories are root's, readable by its group."""
    out = render(tmp_path, "systemd")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "group").write_text("adm:x:4:\n")
    for _ in range(2):  # applying them twice changes nothing
        subprocess.run(["systemd-sysusers", f"--root={root}", str(out / "sysusers.d" / "logwarden.conf")], check=True, capture_output=True)
        subprocess.run(["systemd-tmpfiles", "--create", f"--root={root}", str(out / "tmpfiles.d" / "logwarden.conf")],
                       check=True, capture_output=True)
    users = [l.split(":") for l in (root / "etc" / "passwd").read_text().splitlines() if l.startswith("logwarden:")]
    assert len(users) == 1 and users[0][5] == "/var/lib/logwarden"
    uid, gid = int(users[0][2]), int(users[0][3])
    assert 0 < uid < 1000  # a system user
    want = {"var/lib/logwarden": (uid, gid, 0o750), "etc/logwarden": (0, gid, 0o750), "etc/logwarden/tls": (0, gid, 0o750)}
    for rel, (o, g, mode) in want.items():
        st = (root / rel).stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (o, g, mode), rel


def security_scores(units) -> dict[str, float]:
    import re

    scores = {}
    for u in units:
        res = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(u)], capture_output=True, text=True)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", res.stdout + res.stderr)
        assert m, res.stdout + res.stderr
        scores[u.name] = float(m.group(1))
    return scores


def _offline_security() -> bool:
    if not shutil.which("systemd-analyze"):
        return False
    return "--offline" in subprocess.run(["systemd-analyze", "--help"], capture_output=True, text=True).stdout


@pytest.mark.skipif(not _offline_security(), reason="systemd-analyze security --offline is unavailable (systemd < 250)")
@pytest.mark.parametrize("config", ["", "ingest:\n  syslog_tcp: 0.0.0.0:6514\n"], ids=["syslog-on-514", "unprivileged-ingest"])
def test_systemd_units_are_hardened(tmp_path, config):
    """systemd-analyze rated these 8.3 (EXPOSED) and the agent 9.1 (UNSAFE) with DynamicUser
    and a few Protect* lines; measured now: stages 1.1, ingest 1.4 on port 514 (1.1 above
    1024), agent 1.5 - the agent keeps CAP_DAC_READ_SEARCH and group adm to read /var/log."""
    cfg = tmp_path / "lw.yml"
    cfg.write_text(config or "{}\n")
    out = render(tmp_path, "systemd", cfg)
    scores = security_scores(sorted(out.glob("*.service")))
    assert set(scores) == {"logwarden-agent.service", "logwarden-broker.service", "logwarden-http.service",
                           "logwarden-ingest.service", "logwarden-worker@.service"}
    for name, score in scores.items():
        assert score <= (2.0 if name == "logwarden-agent.service" else 1.5 if "ingest" in name else 1.2), scores
    agent = unit_settings(out / "logwarden-agent.service")
    assert agent["CapabilityBoundingSet"] == agent["AmbientCapabilities"] == ["CAP_DAC_READ_SEARCH"]
    assert agent["SupplementaryGroups"] == ["adm"] and agent["ProtectSystem"] == ["strict"]
    for name in ("logwarden-broker.service", "logwarden-http.service", "logwarden-worker@.service"):
        s = unit_settings(out / name)
        assert s["CapabilityBoundingSet"] == [""] and s["PrivateUsers"] == ["yes"], name
    ingest = unit_settings(out / "logwarden-ingest.service")
    assert ingest["CapabilityBoundingSet"] == (["CAP_NET_BIND_SERVICE"] if not config else [""])


# -- ingest in the scaled-out renders ------------------------------------------------------

INGEST_TLS = """
ingest:
  syslog_tls: 0.0.0.0:6514
  tls_cert_file: /etc/logwarden/tls/syslog.pem
  tls_key_file: /etc/logwarden/tls/syslog.key
  http: 0.0.0.0:9200
  tokens: [{name: shippers, token: "${LW_TOKEN:-0123456789abcdef}"}]
"""


def test_systemd_render_has_an_ingest_unit_with_its_ports_and_tls_files(tmp_path):
    out = render(tmp_path, "systemd")
    cfg = load(out / "logwarden.yml")
    assert (cfg.ingest.syslog_udp, cfg.ingest.syslog_tcp) == ("0.0.0.0:514", "0.0.0.0:514")  # the default receivers
    unit = (out / "logwarden-ingest.service").read_text()
    assert "ExecStart=/opt/logwarden/bin/logwarden ingest -c /etc/logwarden/logwarden.yml" in unit
    assert "syslog_udp: 0.0.0.0:514 (UDP)" in unit and "syslog_tcp: 0.0.0.0:514 (TCP)" in unit
    assert "systemctl enable --now logwarden-ingest" in (out / "README.md").read_text()

    given = tmp_path / "tls.yml"
    given.write_text(INGEST_TLS)
    out = render(tmp_path / "tls", "systemd", given)
    cfg = load(out / "logwarden.yml")
    assert cfg.ingest.syslog_udp is None and cfg.ingest.syslog_tls == "0.0.0.0:6514" and cfg.ingest.http == "0.0.0.0:9200"
    unit = (out / "logwarden-ingest.service").read_text()
    assert "syslog_tls: 0.0.0.0:6514 (TCP)" in unit and "http: 0.0.0.0:9200 (TCP)" in unit
    assert "/etc/logwarden/tls/syslog.pem, /etc/logwarden/tls/syslog.key" in unit


# -- Kubernetes: schema-valid manifests, an ingest Deployment, a DaemonSet that can read logs --

def k8s_docs(out) -> list[dict]:
    return [d for d in yaml.safe_load_all((out / "logwarden.yaml").read_text()) if d]


@pytest.mark.parametrize("config", [None, INGEST_TLS], ids=["defaults", "tls-and-bulk"])
def test_k8s_manifests_pass_the_kubernetes_schemas(tmp_path, config):
    """Every object checked by kubernetes-validate (the API's own OpenAPI schemas, strict:
    unknown fields are errors) for the Kubernetes version it bundles."""
    import kubernetes_validate

    given = None
    if config:
        given = tmp_path / "lw.yml"
        given.write_text(config)
    docs = k8s_docs(render(tmp_path, "k8s", given))
    version = kubernetes_validate.latest_version()
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    # and a broken one is caught, so the check can fail
    bad = next(d for d in docs if d["kind"] == "DaemonSet")
    bad["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]["fieldRef"]["fieldpath"] = "spec.nodeName"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, version, strict=True)


def test_k8s_agent_daemonset_reads_pod_logs_and_names_the_node(tmp_path, monkeypatch):
    out = render(tmp_path, "k8s")
    docs = k8s_docs(out)
    ds = next(d for d in docs if d["kind"] == "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    (agent,) = pod["containers"]
    # root (owner of the 0640 pod logs and of the hostPath state directory), with no capability
    assert pod["securityContext"]["runAsUser"] == 0 and pod["securityContext"]["runAsNonRoot"] is False
    assert agent["securityContext"] == {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                                        "capabilities": {"drop": ["ALL"]}}
    env = {e["name"]: e for e in agent["env"]}
    assert env["NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert agent["args"][:4] == ["logwarden", "agent", "-c", "/etc/logwarden/agent.yml"]
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    agent_yml = tmp_path / "agent.yml"
    agent_yml.write_text(cm["data"]["agent.yml"])
    monkeypatch.setenv("NODE_NAME", "node-7")
    cfg = load(agent_yml)
    assert cfg.agent.host_name == "node-7" and cfg.kafka.bootstrap_servers == "kafka:9092"  # host.name is the node's
    mounts = {m["name"]: m for m in agent["volumeMounts"]}
    assert mounts["varlog"]["readOnly"] is True and mounts["state"]["mountPath"] == cfg.data_dir


def test_k8s_render_has_an_ingest_deployment_and_service(tmp_path):
    docs = k8s_docs(render(tmp_path, "k8s"))
    dep = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "logwarden-ingest")
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    assert c["args"][:2] == ["logwarden", "ingest"]
    assert {(p["containerPort"], p["protocol"]) for p in c["ports"]} == {(5514, "UDP"), (5514, "TCP")}
    svc = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "logwarden-ingest")
    assert {(p["port"], p["protocol"], p["targetPort"]) for p in svc["spec"]["ports"]} == {
        (514, "UDP", "syslog-udp"), (514, "TCP", "syslog-tcp")}
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    assert yaml.safe_load(cm["data"]["logwarden.yml"])["ingest"] == {"syslog_udp": "0.0.0.0:5514", "syslog_tcp": "0.0.0.0:5514"}


def test_k8s_ingest_tls_comes_from_a_secret(tmp_path):
    given = tmp_path / "lw.yml"
    given.write_text(INGEST_TLS)
    docs = k8s_docs(render(tmp_path, "k8s", given))
    dep = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "logwarden-ingest")
    pod = dep["spec"]["template"]["spec"]
    assert {"name": "tls", "secret": {"secretName": "logwarden-ingest-tls"}} in pod["volumes"]
    assert {"name": "tls", "mountPath": "/etc/logwarden/tls", "readOnly": True} in pod["containers"][0]["volumeMounts"]
    ingest = yaml.safe_load(next(d for d in docs if d["kind"] == "ConfigMap")["data"]["logwarden.yml"])["ingest"]
    assert (ingest["tls_cert_file"], ingest["tls_key_file"]) == ("/etc/logwarden/tls/tls.crt", "/etc/logwarden/tls/tls.key")
    svc = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "logwarden-ingest")
    assert {(p["name"], p["port"]) for p in svc["spec"]["ports"]} == {("syslog-tls", 6514), ("http", 9200)}


# -- the agent installer ---------------------------------------------------------------------

def staged_root(tmp_path):
    """An empty root whose /opt/logwarden is this test run's own venv (--no-pip): the rendered
    script runs for real - sysusers, tmpfiles, writing the config, `logwarden config check`."""
    import sys

    if sys.prefix == sys.base_prefix:
        pytest.skip("needs the tests to run from a venv (it stands in for /opt/logwarden)")
    if not (shutil.which("systemd-sysusers") and shutil.which("systemd-tmpfiles")):
        pytest.skip("systemd-sysusers / systemd-tmpfiles are unavailable on this machine")
    root = tmp_path / "root"
    (root / "opt").mkdir(parents=True)
    (root / "opt" / "logwarden").symlink_to(sys.prefix)
    (root / "etc").mkdir()
    (root / "etc" / "group").write_text("adm:x:4:\n")
    return root


def install(script, root, *args):
    return subprocess.run(["sh", str(script), "--root", str(root), "--no-pip", *args], capture_output=True, text=True, timeout=120)


def snapshot(root) -> dict[str, tuple]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink() or "opt" in p.relative_to(root).parts[:1]:
            continue
        st = p.stat()
        out[str(p.relative_to(root))] = (st.st_mode, st.st_uid, st.st_gid, p.read_bytes() if p.is_file() else None)
    return out


def test_agent_installer_installs_from_its_arguments_and_is_idempotent(tmp_path):
    script = render(tmp_path, "agent-install") / "install-agent.sh"
    root = staged_root(tmp_path)
    args = ["--broker", "kafka-1:9092,kafka-2:9092", "--tail", "/var/log/nginx/*.log:nginx", "--tail", "/var/log/auth.log"]
    first = install(script, root, *args)
    assert first.returncode == 0, first.stderr
    before = snapshot(root)
    second = install(script, root, *args)
    assert second.returncode == 0, second.stderr
    assert snapshot(root) == before  # the second run changed nothing

    cfg = load(root / "etc" / "logwarden" / "logwarden.yml")
    assert cfg.kafka.bootstrap_servers == "kafka-1:9092,kafka-2:9092" and cfg.data_dir == "/var/lib/logwarden"
    assert [(s.paths, s.format) for s in cfg.sources] == [(["/var/log/nginx/*.log"], "nginx"), (["/var/log/auth.log"], None)]
    (user,) = [l.split(":") for l in (root / "etc" / "passwd").read_text().splitlines() if l.startswith("logwarden:")]
    st = (root / "etc" / "logwarden" / "logwarden.yml").stat()
    assert (st.st_mode & 0o777, st.st_gid) == (0o640, int(user[3]))
    assert (root / "var" / "lib" / "logwarden").stat().st_uid == int(user[2])
    unit = (root / "etc" / "systemd" / "system" / "logwarden-agent.service").read_text()
    assert unit == (render(tmp_path / "sd", "systemd") / "logwarden-agent.service").read_text()  # one agent unit

    # new arguments rewrite the configuration; none keep it
    assert install(script, root, "--broker", "kafka-3:9092").returncode == 0
    assert load(root / "etc" / "logwarden" / "logwarden.yml").kafka.bootstrap_servers == "kafka-3:9092"
    assert install(script, root).returncode == 0
    assert load(root / "etc" / "logwarden" / "logwarden.yml").kafka.bootstrap_servers == "kafka-3:9092"


@pytest.mark.parametrize("args, message", [
    ([], "--broker is required for a first install"),
    (["--broker", "kafka:9092", "--enrollment-token", "abc"], "fleet enrollment is not implemented yet"),
    (["--broker"], "--broker needs HOST:PORT"),
    (["--tail", "/var/log/x.log"], "--broker is required"),
    (["--broker", "kafka:9092", "--colour"], "unknown argument --colour"),
])
def test_agent_installer_refuses_bad_arguments(tmp_path, args, message):
    script = render(tmp_path, "agent-install") / "install-agent.sh"
    root = staged_root(tmp_path)
    res = install(script, root, *args)
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert not (root / "etc" / "logwarden").exists()


def test_agent_installer_checks_the_broker_address(tmp_path):
    script = render(tmp_path, "agent-install") / "install-agent.sh"
    root = staged_root(tmp_path)
    res = install(script, root, "--broker", "kafka:99999")
    assert res.returncode == 2 and "kafka.bootstrap_servers" in res.stderr and "port 99999" in res.stderr
    assert not (root / "etc" / "systemd" / "system" / "logwarden-agent.service").exists()
    assert list((root / "etc" / "logwarden").iterdir()) == [root / "etc" / "logwarden" / "tls"]  # nothing written
    # a good install, then a bad re-run: the good configuration stays
    assert install(script, root, "--broker", "kafka:9092").returncode == 0
    assert install(script, root, "--broker", "kafka:0").returncode == 2
    assert load(root / "etc" / "logwarden" / "logwarden.yml").kafka.bootstrap_servers == "kafka:9092"
