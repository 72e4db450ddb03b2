"""How the console writes instants and timeline details (no database needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from daemon.console.render import detail_text, instant

TOKYO = ZoneInfo("Asia/Tokyo")


def test_an_instant_reads_in_tokyo_with_utc_on_hover() -> None:
    shown = instant(datetime(2026, 11, 24, 16, 30, tzinfo=UTC), TOKYO)
    assert shown == (
        '<time datetime="2026-11-24T16:30:00Z" title="2026-11-24T16:30:00Z (UTC)">'
        "2026-11-25 01:30 JST</time>"
    )
    assert instant(None, TOKYO) == "—"


def test_timeline_details_spell_out_instants_lists_and_tables() -> None:
    recomputed = {"contact": ["2026-12-01T17:07:58.605466+00:00", None, "sla_breached"]}
    text = str(detail_text(recomputed, TOKYO))
    assert text.startswith('contact: [<time datetime="2026-12-01T17:07:58Z"')
    assert "2026-12-02 02:07:58 JST</time>, —, sla_breached]" in text
    assert str(detail_text("<b>ticket 42</b>", TOKYO)) == "&lt;b&gt;ticket 42&lt;/b&gt;"
    assert str(detail_text("2026-12-01", TOKYO)) == "2026-12-01"
    assert str(detail_text(3, TOKYO)) == "3"
