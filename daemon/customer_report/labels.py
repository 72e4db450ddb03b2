"""The report's words in Japanese and English, and instants and durations as people read
them: wall time in the calendar's zone, targets in minutes or business days."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

LABELS: dict[str, dict[str, str]] = {
    "ja": {
        "title": "月次SLA報告書",
        "customer": "お客様",
        "month": "対象月",
        "period": "対象期間",
        "timezone": "時刻の表記",
        "generated_at": "作成日時",
        "partial": "この月はまだ終わっていません。作成時点までの途中経過です。",
        "complete": "確定(月末締め)",
        "status": "状態",
        "compliance": "達成状況",
        "incidents": "インシデント",
        "no_incidents": "この月のインシデントはありません。",
        "no_clocks": "この月に計測した対応時間はありません。",
        "incident": "インシデント",
        "resource": "対象リソース",
        "severity": "重要度",
        "detected_at": "検知日時",
        "detected_at_estimated": "検知時刻は受信時刻で代用しています",
        "contacted_at": "連絡日時",
        "reported_at": "報告日時",
        "resolved_at": "復旧日時",
        "clock": "項目",
        "state": "状態",
        "start": "起算",
        "stop": "完了",
        "slo_target": "SLO目標",
        "sla_target": "SLA目標",
        "slo_due": "SLO期限",
        "sla_due": "SLA期限",
        "counted": "計上時間",
        "excluded": "対象外時間",
        "outcome": "結果",
        "exclusions": "対象外時間とその理由",
        "window": "対象外の根拠",
        "reason": "理由",
        "from": "開始",
        "to": "終了",
        "planned": "予定",
        "support_requests": "技術支援",
        "no_support_requests": "この月の技術支援のお問い合わせはありません。",
        "support_request": "お問い合わせ",
        "received_at": "受付日時",
        "replied_at": "回答日時",
        "out_of_scope": "対象外(回答時間の定めなし)",
        "count": "件数",
        "met": "達成",
        "breached": "未達",
        "ratio": "達成率",
        "undecided": "未確定",
        "notices": "クラウド事業者からのお知らせ",
        "no_notices": "この月のお知らせはありません。",
        "notice": "お知らせ",
        "kind": "種別",
        "source": "提供元",
        "services": "サービス",
        "regions": "リージョン",
        "resources": "影響リソース",
        "not_announced": "未定",
        "none": "—",
    },
    "en": {
        "title": "Monthly SLA report",
        "customer": "Customer",
        "month": "Month",
        "period": "Period",
        "timezone": "Times shown in",
        "generated_at": "Generated",
        "partial": "This month has not ended: the figures are as of the time generated.",
        "complete": "Final (month ended)",
        "status": "Status",
        "compliance": "Compliance",
        "incidents": "Incidents",
        "no_incidents": "No incidents this month.",
        "no_clocks": "No response times were measured this month.",
        "incident": "Incident",
        "resource": "Resource",
        "severity": "Severity",
        "detected_at": "Detected",
        "detected_at_estimated": "detection time taken from receipt",
        "contacted_at": "Contacted",
        "reported_at": "Reported",
        "resolved_at": "Resolved",
        "clock": "Clock",
        "state": "State",
        "start": "Start",
        "stop": "Stop",
        "slo_target": "SLO target",
        "sla_target": "SLA target",
        "slo_due": "SLO due",
        "sla_due": "SLA due",
        "counted": "Counted",
        "excluded": "Excluded",
        "outcome": "Outcome",
        "exclusions": "Excluded time and why",
        "window": "Excluded by",
        "reason": "Reason",
        "from": "From",
        "to": "To",
        "planned": "planned",
        "support_requests": "Professional support",
        "no_support_requests": "No support requests this month.",
        "support_request": "Request",
        "received_at": "Received",
        "replied_at": "Replied",
        "out_of_scope": "out of scope (no response time applies)",
        "count": "Count",
        "met": "Met",
        "breached": "Breached",
        "ratio": "Ratio",
        "undecided": "Undecided",
        "notices": "Provider notices",
        "no_notices": "No provider notices this month.",
        "notice": "Notice",
        "kind": "Kind",
        "source": "Source",
        "services": "Services",
        "regions": "Regions",
        "resources": "Affected resources",
        "not_announced": "not announced",
        "none": "—",
    },
}

CODES: dict[str, dict[str, str]] = {
    "ja": {
        "contact": "障害発生連絡",
        "report": "障害発生報告",
        "support_reply": "技術支援・回答",
        "met": "達成",
        "slo_breached": "SLO未達",
        "sla_breached": "SLA未達",
        "open": "進行中",
        "pending": "未開始",
        "running": "計測中",
        "paused": "停止中(対象外)",
        "stopped": "完了",
        "maintenance": "メンテナンス",
        "provider_maintenance": "クラウド事業者のメンテナンス",
        "monitoring_fault": "監視システムの障害",
        "incident": "障害",
        "informational": "お知らせ",
        "scheduled": "予定",
        "active": "実施中",
        "resolved": "終了",
        "cancelled": "中止",
    },
    "en": {
        "contact": "Incident contact",
        "report": "Incident report",
        "support_reply": "Support reply",
        "met": "met",
        "slo_breached": "SLO breached",
        "sla_breached": "SLA breached",
        "open": "open",
        "pending": "not started",
        "running": "running",
        "paused": "paused (excluded)",
        "stopped": "stopped",
        "maintenance": "maintenance",
        "provider_maintenance": "provider maintenance",
        "monitoring_fault": "monitoring fault",
        "incident": "incident",
        "informational": "informational",
        "scheduled": "scheduled",
        "active": "active",
        "resolved": "resolved",
        "cancelled": "cancelled",
    },
}


class Words:
    """The labels, codes, instants and durations of one report's language and zone."""

    def __init__(self, locale: str, zone: ZoneInfo) -> None:
        self.locale = locale
        self.zone = zone
        self.labels = LABELS[locale]
        self._codes = CODES[locale]

    def __getitem__(self, key: str) -> str:
        return self.labels[key]

    def code(self, value: str) -> str:
        """A code (clock, outcome, state, window kind, notice kind or status) in words;
        one the report does not know is shown as it is."""
        return self._codes.get(value, value)

    def when(self, instant: datetime | None) -> str:
        """Wall time in the report's zone, to the minute (seconds when they are not 0)."""
        if instant is None:
            return self.labels["none"]
        local = instant.astimezone(self.zone)
        return local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")

    def period(self, start: datetime, end: datetime) -> str:
        """The month as its first and last day, e.g. `2026-11-01〜2026-11-30`."""
        first = start.astimezone(self.zone).date()
        last = (end.astimezone(self.zone) - timedelta(days=1)).date()
        joiner = "〜" if self.locale == "ja" else " to "
        return f"{first.isoformat()}{joiner}{last.isoformat()}"

    def duration(self, seconds: float | None) -> str:
        """`1時間5分` / `1 h 5 min`; whole seconds are shown only under a minute's rest."""
        if seconds is None:
            return self.labels["none"]
        total = round(seconds)
        hours, rest = divmod(total, 3600)
        minutes, secs = divmod(rest, 60)
        if self.locale == "ja":
            units = (("時間", hours), ("分", minutes), ("秒", secs))
            return "".join(f"{n}{u}" for u, n in units if n) or "0分"
        parts = ((hours, "h"), (minutes, "min"), (secs, "s"))
        return " ".join(f"{n} {u}" for n, u in parts if n) or "0 min"

    def business_days(self, days: int) -> str:
        return f"{days}営業日" if self.locale == "ja" else f"{days} business days"

    def ratio(self, value: float | None) -> str:
        return self.labels["none"] if value is None else f"{value:.1%}"
