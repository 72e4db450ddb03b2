# ruff: noqa: RUF001  (full-width brackets are correct in Japanese text)
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from daemon.notify.events import NotifyEvent
from daemon.notify.templates import TemplateError, TemplateSet, resolve_locale
from daemon.notify.variables import TemplateValue, required_variables

DETECTED = datetime(2026, 1, 5, 1, 30, tzinfo=UTC)  # 10:30 Monday in Tokyo
PROVIDER = {
    "provider_name": "株式会社デジテラス",
    "provider_url": "https://ticket.example.jp/",
    "provider_email": "support@example.jp",
    "provider_phone": "050-0000-0000",
}
FIRST_NOTICE: dict[str, TemplateValue] = {
    **PROVIDER,
    "incident_id": "INC-42",
    "customer_name": "株式会社サンプル",
    "resource_name": "web01",
    "severity": "high",
    "summary": "HTTP 応答なし",
    "detected_at": DETECTED,
}


def _sample(event: NotifyEvent) -> dict[str, TemplateValue]:
    values: dict[str, TemplateValue] = {}
    for name in required_variables(event):
        if name.endswith(("_at", "_due")):
            values[name] = DETECTED + timedelta(minutes=30)
        elif name == "percent":
            values[name] = 80
        elif name == "clock":
            values[name] = "contact"
        else:
            values[name] = f"<{name}>"
    return values


@pytest.fixture(scope="module")
def templates() -> TemplateSet:
    return TemplateSet.load()


@pytest.mark.parametrize("locale", ["ja", "en"])
@pytest.mark.parametrize("event", list(NotifyEvent))
def test_every_shipped_template_renders(
    templates: TemplateSet, event: NotifyEvent, locale: str
) -> None:
    subject, body = templates.render(event, locale, _sample(event))
    assert subject and "\n" not in subject
    assert body.endswith("\n") and "$" not in body


def test_customer_first_notice_in_japanese(templates: TemplateSet) -> None:
    subject, body = templates.render(NotifyEvent.CUSTOMER_FIRST_NOTICE, "ja", FIRST_NOTICE)
    assert subject == "【障害発生のご連絡】web01（受付番号 INC-42）"
    assert body.startswith("株式会社サンプル 御中\n")
    assert "2026年1月5日（月）10:30（日本時間）" in body
    assert "2026-01-05T01:30:00Z" in body
    assert "HTTP 応答なし" in body
    for value in PROVIDER.values():
        assert value in body


def test_customer_first_notice_in_english(templates: TemplateSet) -> None:
    subject, body = templates.render(NotifyEvent.CUSTOMER_FIRST_NOTICE, "en", FIRST_NOTICE)
    assert subject == "[Incident notice] web01 (reference INC-42)"
    assert "2026-01-05 (Mon) 10:30 JST" in body
    assert "Dear 株式会社サンプル," in body


def test_instants_in_any_zone_are_shown_in_utc_and_tokyo(templates: TemplateSet) -> None:
    new_york = DETECTED.astimezone(timezone(timedelta(hours=-5)))
    _, body = templates.render(
        NotifyEvent.CUSTOMER_FIRST_NOTICE, "ja", {**FIRST_NOTICE, "detected_at": new_york}
    )
    assert "2026年1月5日（月）10:30（日本時間）" in body and "2026-01-05T01:30:00Z" in body


def test_clock_label_is_localised(templates: TemplateSet) -> None:
    variables = _sample(NotifyEvent.SLA_BREACHED)
    assert (
        "障害発生報告"
        in templates.render(NotifyEvent.SLA_BREACHED, "ja", {**variables, "clock": "report"})[0]
    )
    assert (
        "support reply"
        in templates.render(
            NotifyEvent.SLA_BREACHED, "en", {**variables, "clock": "support_reply"}
        )[0]
    )


def test_subject_is_folded_onto_one_line(templates: TemplateSet) -> None:
    subject, _ = templates.render(
        NotifyEvent.CUSTOMER_FIRST_NOTICE, "ja", {**FIRST_NOTICE, "resource_name": "web\r\n01"}
    )
    assert subject == "【障害発生のご連絡】web 01（受付番号 INC-42）"


@pytest.mark.parametrize(
    ("given", "chosen"),
    [
        (None, "ja"),
        ("", "ja"),
        ("ja", "ja"),
        ("en", "en"),
        ("en-US", "en"),
        ("EN_gb", "en"),
        ("fr", "ja"),
        ("zh-Hant", "ja"),
    ],
)
def test_locale_falls_back_to_japanese(given: str | None, chosen: str) -> None:
    assert resolve_locale(given) == chosen


def test_unknown_locale_renders_japanese(templates: TemplateSet) -> None:
    assert templates.render(NotifyEvent.CUSTOMER_FIRST_NOTICE, "fr", FIRST_NOTICE) == (
        templates.render(NotifyEvent.CUSTOMER_FIRST_NOTICE, "ja", FIRST_NOTICE)
    )


def test_missing_variable_is_a_clear_error(templates: TemplateSet) -> None:
    variables = {k: v for k, v in FIRST_NOTICE.items() if k not in ("provider_phone", "summary")}
    with pytest.raises(TemplateError, match="missing template variables: provider_phone, summary"):
        templates.render(NotifyEvent.CUSTOMER_FIRST_NOTICE, "ja", variables)


def test_naive_instant_and_none_are_rejected(templates: TemplateSet) -> None:
    with pytest.raises(TemplateError, match="'detected_at' must be a timezone-aware datetime"):
        templates.render(
            NotifyEvent.CUSTOMER_FIRST_NOTICE,
            "ja",
            {**FIRST_NOTICE, "detected_at": datetime(2026, 1, 5, 10, 30)},
        )
    with pytest.raises(TemplateError, match="'summary' is None"):
        templates.render(
            NotifyEvent.CUSTOMER_FIRST_NOTICE,
            "ja",
            {**FIRST_NOTICE, "summary": None},  # type: ignore[dict-item]
        )


def _write(folder: Path, locale: str, event: str, text: str) -> None:
    (folder / locale).mkdir(parents=True, exist_ok=True)
    (folder / locale / f"{event}.txt").write_text(text, encoding="utf-8")


def test_override_folder_replaces_single_files(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "ja",
        "customer_first_notice",
        "Subject: 障害のお知らせ ${incident_id}\n\n${customer_name} 様\n費用 $$0\n",
    )
    templates = TemplateSet.load(tmp_path)
    assert templates.render(NotifyEvent.CUSTOMER_FIRST_NOTICE, "ja", FIRST_NOTICE) == (
        "障害のお知らせ INC-42",
        "株式会社サンプル 様\n費用 $0\n",
    )
    english, _ = templates.render(NotifyEvent.CUSTOMER_FIRST_NOTICE, "en", FIRST_NOTICE)
    assert english.startswith("[Incident notice]"), "other files keep the shipped default"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Subject: x ${incident_idd}\n\nbody\n", r"unknown variable\(s\) incident_idd"),
        ("Subject: x\n\n${provider_name} ${alert_id}\n", r"unknown variable\(s\) alert_id"),
        ("Subject: x\n\ncosts $5\n", "bad placeholder syntax"),
        ("件名: x\n\nbody\n", "first line must be 'Subject: ...'"),
        ("Subject: x\nbody\n", "followed by a blank line"),
        ("", "first line must be"),
    ],
)
def test_bad_override_fails_at_load_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    _write(tmp_path, "en", "customer_first_notice", text)
    with pytest.raises(TemplateError, match=message) as caught:
        TemplateSet.load(tmp_path)
    assert "customer_first_notice.txt" in str(caught.value)


def test_override_folder_typos_are_errors(tmp_path: Path) -> None:
    _write(tmp_path, "ja", "incident_open", "Subject: x\n\ny\n")
    with pytest.raises(TemplateError, match="no event named 'incident_open'"):
        TemplateSet.load(tmp_path)
    other = tmp_path / "other"
    _write(other, "jp", "incident_opened", "Subject: x\n\ny\n")
    with pytest.raises(TemplateError, match="expected a locale folder"):
        TemplateSet.load(other)
    with pytest.raises(TemplateError, match="is not a folder"):
        TemplateSet.load(tmp_path / "missing")


def test_clock_variables_only_where_the_event_has_a_clock(tmp_path: Path) -> None:
    _write(tmp_path, "ja", "incident_opened", "Subject: ${clock_label}\n\nx\n")
    with pytest.raises(TemplateError, match="clock_label"):
        TemplateSet.load(tmp_path)
