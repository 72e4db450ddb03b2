"""The deployment artefacts under deploy/: they parse, name only documented metrics, and
point their health checks at the real endpoints."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

METRICS = frozenset(
    {
        "slad_open_incidents",
        "slad_owed_clocks",
        "slad_owed_clocks_due_within",
        "slad_next_due_seconds",
        "slad_clock_outcomes_total",
        "slad_time_to_contact_seconds",
        "slad_time_to_report_seconds",
        "slad_compliance_ratio",
        "slad_alerts_ingested_total",
        "slad_unassigned_alerts",
        "slad_ingest_backlog",
        "slad_ingest_backlog_age_seconds",
        "slad_ingest_failed_events",
        "slad_ingest_request_duration_seconds",
        "slad_scheduler_lag_seconds",
        "slad_outbox_pending",
        "slad_outbox_failed",
        "slad_notifications_total",
        "slad_leader",
        "slad_connector_up",
        "slad_connector_failures_total",
        "slad_store_up",
        "slad_provider_notices",
        "slad_provider_notices_unmapped",
        "slad_provider_notices_undelivered",
    }
)
"""The metric names slad exposes: the contract the rules and the dashboard rely on."""

RULES = DEPLOY / "prometheus" / "slad-rules.yaml"
DASHBOARD = DEPLOY / "grafana" / "slad-dashboard.json"
UNIT = DEPLOY / "systemd" / "slad.service"
CONTAINERFILE = DEPLOY / "container" / "Containerfile"
CHART = DEPLOY / "helm" / "slad"


def _yaml() -> Any:
    return pytest.importorskip("yaml", reason="PyYAML is not installed (not a slad dependency)")


def metric_names(text: str) -> set[str]:
    """`slad_*` names in PromQL text, histogram series folded to their family."""
    return {re.sub(r"_(bucket|sum|count)$", "", m) for m in re.findall(r"slad_[a-z_]+", text)}


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs: list[str] = []
    for panel in dashboard["panels"]:
        exprs.extend(t["expr"] for t in panel.get("targets", []))
        for inner in panel.get("panels", []):
            exprs.extend(t["expr"] for t in inner.get("targets", []))
    return exprs


def rule_exprs() -> dict[str, str]:
    doc = _yaml().safe_load(RULES.read_text(encoding="utf-8"))
    return {
        rule.get("alert") or rule["record"]: str(rule["expr"])
        for group in doc["groups"]
        for rule in group["rules"]
    }


# --- metric names -------------------------------------------------------------------


def test_metric_name_extraction_folds_histogram_series() -> None:
    text = "rate(slad_scheduler_lag_seconds_bucket[5m]) / slad_bogus_count + slad:x:rate5m"
    assert metric_names(text) == {"slad_scheduler_lag_seconds", "slad_bogus"}


def test_dashboard_uses_only_documented_metrics() -> None:
    used = metric_names(DASHBOARD.read_text(encoding="utf-8"))
    assert used, "the dashboard queries no slad metric"
    assert used <= METRICS, f"undocumented metrics: {sorted(used - METRICS)}"


def test_rules_use_only_documented_metrics() -> None:
    used = metric_names(RULES.read_text(encoding="utf-8"))
    assert used <= METRICS, f"undocumented metrics: {sorted(used - METRICS)}"


# --- Prometheus rules ---------------------------------------------------------------


def test_rules_parse_and_cover_the_required_alerts() -> None:
    rules = rule_exprs()
    expected = {
        "SladSLAComplianceBelowTarget": "slad_compliance_ratio",
        "SladSLABreached": 'slad_owed_clocks{state="sla_breached"}',
        "SladSchedulerLagHigh": "slad:scheduler_lag_seconds:p99_5m",
        "SladOutboxFailed": "slad_outbox_failed",
        "SladOutboxBacklogGrowing": "slad_outbox_pending",
        "SladNoLeader": "slad_leader",
        "SladConnectorDown": "slad_connector_up",
        "SladUnassignedAlerts": "slad_unassigned_alerts",
        "SladIngestBacklogStale": "slad_ingest_backlog_age_seconds",
        "SladIngestFailedEvents": "slad_ingest_failed_events",
        "SladStoreDown": "slad_store_up",
    }
    for alert, needle in expected.items():
        assert alert in rules, f"missing alert {alert}"
        assert needle in rules[alert], f"{alert} does not query {needle}"
    assert 'target="sla"' in rules["SladSLAComplianceBelowTarget"]
    assert "absent(slad_leader)" in rules["SladNoLeader"]
    assert "slad_scheduler_lag_seconds_bucket" in rules["slad:scheduler_lag_seconds:p99_5m"]


def test_every_alert_has_for_severity_and_runbook() -> None:
    doc = _yaml().safe_load(RULES.read_text(encoding="utf-8"))
    alerts = [r for g in doc["groups"] for r in g["rules"] if "alert" in r]
    assert len(alerts) >= 8
    for rule in alerts:
        assert rule.get("for"), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        for key in ("summary", "description", "runbook"):
            assert rule["annotations"].get(key), f"{rule['alert']}: no {key}"


def test_recording_rules_referenced_by_alerts_exist() -> None:
    rules = rule_exprs()
    for name, expr in rules.items():
        for recorded in re.findall(r"slad:[a-z0-9_:]+", expr):
            assert recorded in rules, f"{name} uses unknown recording rule {recorded}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_sla_breach_alert_fires_once_per_plan_and_clock() -> None:
    cases = Path(__file__).with_name("sla_breach_rules_test.yaml")
    result = subprocess.run(
        ["promtool", "test", "rules", str(cases)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- Grafana ------------------------------------------------------------------------


def test_dashboard_panels_use_the_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(panels) >= 10
    for panel in panels:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], panel["title"]


def test_dashboard_shows_the_required_views() -> None:
    exprs = "\n".join(dashboard_exprs())
    for needle in (
        "slad_compliance_ratio",
        "slad_open_incidents",
        "increase(slad_clock_outcomes_total",
        "histogram_quantile(0.9, max by (plan, le) (rate(slad_time_to_contact_seconds_bucket",
        "histogram_quantile(0.9, max by (plan, le) (rate(slad_time_to_report_seconds_bucket",
        "histogram_quantile(0.99, sum by (le) (rate(slad_scheduler_lag_seconds_bucket",
        "histogram_quantile(0.99, sum by (le, route) (rate(slad_ingest_request_duration",
        "rate(slad_ingest_request_duration_seconds_count",
        "slad_outbox_pending",
        "slad_outbox_failed",
        "slad_leader",
        "slad_connector_up",
        'slad_owed_clocks_due_within{seconds="900"}',
        "slad_next_due_seconds",
    ):
        assert needle in exprs, needle


def test_grafana_provisioning_points_at_the_dashboard() -> None:
    yaml = _yaml()
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "slad.yaml").read_text()
    )
    path = provider["providers"][0]["options"]["path"]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/slad-dashboard.json:{path}/slad-dashboard.json:ro" in mounts


# --- compose ------------------------------------------------------------------------


def test_compose_runs_two_postgres_replicas_scraped_by_prometheus() -> None:
    yaml = _yaml()
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:15")
    slad = services["slad"]
    assert slad["deploy"]["replicas"] == 2
    assert slad["environment"]["SLAD_DATABASE__URL"].startswith("postgresql+psycopg://")
    assert slad["environment"]["SLAD_SKIP_MIGRATE"] == "1"
    assert slad["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["build"]["dockerfile"] == "deploy/container/Containerfile"
    for name in ("prometheus", "grafana"):
        assert name in services
    volumes = services["prometheus"]["volumes"]
    assert any(v.startswith("./prometheus/slad-rules.yaml:") for v in volumes)
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    rules_path = next(v.split(":")[1] for v in volumes if "slad-rules" in v)
    assert rules_path in prom["rule_files"]
    job = prom["scrape_configs"][0]
    assert job["dns_sd_configs"][0]["names"] == ["slad"]


# --- systemd ------------------------------------------------------------------------


def _unit_keys(text: str) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            keys.setdefault(key, []).append(value)
    return keys


def test_systemd_unit_has_the_required_settings() -> None:
    keys = _unit_keys(UNIT.read_text(encoding="utf-8"))
    assert keys["User"] == ["slad"]
    assert keys["ExecStart"] == ["/opt/slad/bin/slad run"]
    assert keys["ExecStartPre"] == ["/opt/slad/bin/slad migrate"]
    assert keys["EnvironmentFile"] == ["-/etc/slad/slad.env"]
    assert "SLAD_CONFIG=/etc/slad/config.toml" in keys["Environment"]
    assert keys["Restart"] == ["on-failure"]
    assert keys["StateDirectory"] == ["slad"]
    assert keys["WorkingDirectory"] == ["/var/lib/slad"]
    assert keys["ProtectSystem"] == ["strict"]
    for flag in ("NoNewPrivileges", "PrivateTmp", "ProtectHome"):
        assert keys[flag] == ["yes"], flag


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not found")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify insists that executables exist: point the unit at a stub in place of
    # /opt/slad/bin/slad and check everything else as written.
    stub = tmp_path / "slad"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    unit = tmp_path / "slad.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace("/opt/slad/bin/slad", str(stub)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    # Unknown keys and bad values are only warned about: any line about the unit fails.
    complaints = [line for line in result.stderr.splitlines() if unit.name in line]
    assert result.returncode == 0 and not complaints, result.stderr


# --- container ----------------------------------------------------------------------


def test_containerfile_healthcheck_and_user() -> None:
    text = CONTAINERFILE.read_text(encoding="utf-8")
    healthcheck = re.search(r"^HEALTHCHECK\b((?:[^\n]*\\\n)*[^\n]*)", text, re.MULTILINE)
    assert healthcheck, "no HEALTHCHECK"
    urls = re.findall(r"http://[^'\"\s]+", healthcheck.group(1))
    assert urls and all(u.endswith("/healthz") for u in urls), urls
    assert "urllib" in healthcheck.group(1)
    assert re.search(r"^FROM python:3\.11-slim|^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M)
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 2, "not multi-stage"
    assert "pip install -c constraints.txt ." in text
    assert re.search(r"^USER slad", text, re.MULTILINE)
    assert "SLAD_SERVER__HOST=0.0.0.0" in text


def test_entrypoint_migrates_unless_skipped(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    fake = tmp_path / "slad"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    fake.chmod(0o755)
    entrypoint = DEPLOY / "container" / "entrypoint.sh"

    def run(*args: str, **env: str) -> list[str]:
        log.write_text("")
        subprocess.run(
            ["sh", str(entrypoint), *args],
            env={"PATH": f"{tmp_path}:/usr/bin:/bin", **env},
            check=True,
        )
        return log.read_text().splitlines()

    assert run() == ["migrate", "run"]
    assert run("run") == ["migrate", "run"]
    assert run(SLAD_SKIP_MIGRATE="1") == ["run"]
    assert run("check-config") == ["check-config"]


# --- Helm ---------------------------------------------------------------------------


def test_helm_deployment_probes_and_migrate_init_container() -> None:
    text = (CHART / "templates" / "deployment.yaml").read_text(encoding="utf-8")
    liveness = re.search(r"livenessProbe:\s*\n\s*httpGet:\s*\n\s*path: (\S+)", text)
    readiness = re.search(r"readinessProbe:\s*\n\s*httpGet:\s*\n\s*path: (\S+)", text)
    assert liveness and liveness.group(1) == "/healthz"
    assert readiness and readiness.group(1) == "/readyz"
    init = text.split("initContainers:", 1)[1].split("containers:", 1)[0]
    assert 'args: ["migrate"]' in init
    assert "SLAD_DATABASE__URL" in (CHART / "templates" / "_helpers.tpl").read_text()


def test_helm_chart_metadata_and_values() -> None:
    yaml = _yaml()
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "slad"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["serviceMonitor"]["enabled"] is False
    assert "existingSecret" in values["database"]
    assert values["resources"]["requests"]
    assert "[log]" in values["config"]
    for name in ("_helpers.tpl", "NOTES.txt", "service.yaml", "secret.yaml", "servicemonitor.yaml"):
        assert (CHART / "templates" / name).is_file(), name
