"""The console's words in Japanese and English; each user picks one (kept in the
session), the sign-in page speaks `[console] language`.

Japanese is written with its own full-width brackets and question mark, hence RUF001 is off.
"""

# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("ja", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    # key: (ja, en)
    "app": ("slad コンソール", "slad console"),
    "nav.board": ("対応ボード", "Board"),
    "nav.alerts": ("未割当アラート", "Unassigned alerts"),
    "nav.windows": ("メンテナンス・障害", "Windows and faults"),
    "nav.notices": ("プロバイダー通知", "Provider notices"),
    "nav.sources": ("ソース状態", "Source health"),
    "sign_in": ("サインイン", "Sign in"),
    "sign_out": ("サインアウト", "Sign out"),
    "token": ("API トークン", "API token"),
    "token.help": (
        "slad の API トークンを入力してください。ロールは API と同じです。",
        "Paste a slad API token; its role applies here as in the API.",
    ),
    "signin.unknown-token": ("トークンが不明です。", "The token is unknown."),
    "signin.revoked-token": ("トークンは失効しています。", "The token was revoked."),
    "signin.expired-token": ("トークンの有効期限が切れています。", "The token has expired."),
    "signin.ingest-token": (
        "ingest トークンではサインインできません。",
        "An ingest token cannot sign in to the console.",
    ),
    "signin.expired": (
        "セッションが終了しました。もう一度サインインしてください。",
        "Your session has ended; sign in again.",
    ),
    "signed_in_as": ("サインイン中", "Signed in as"),
    "language": ("言語", "Language"),
    "apply": ("切替", "Apply"),
    "board.title": ("対応が必要なクロック", "Owed clocks"),
    "board.empty": ("対応待ちのクロックはありません。", "No clock owes anything."),
    "board.updated": ("更新", "Updated"),
    "col.left": ("残り時間", "Time left"),
    "col.customer": ("顧客", "Customer"),
    "col.plan": ("プラン", "Plan"),
    "col.resource": ("リソース", "Resource"),
    "col.clock": ("クロック", "Clock"),
    "col.target": ("目標", "Target"),
    "col.due": ("期限", "Due"),
    "col.incident": ("インシデント", "Incident"),
    "col.actions": ("操作", "Actions"),
    "col.at": ("日時", "At"),
    "col.kind": ("種別", "Kind"),
    "col.actor": ("実施者", "By"),
    "col.detail": ("内容", "Detail"),
    "col.status": ("状態", "Status"),
    "col.title": ("件名", "Title"),
    "col.severity": ("重要度", "Severity"),
    "col.source": ("ソース", "Source"),
    "col.scope": ("対象", "Scope"),
    "col.start": ("開始", "Start"),
    "col.end": ("終了", "End"),
    "col.description": ("説明", "Description"),
    "col.detected": ("検知", "Detected"),
    "col.received": ("受信", "Received"),
    "col.identifiers": ("識別子", "Identifiers"),
    "clock.contact": ("顧客連絡", "Customer contact"),
    "clock.report": ("障害報告", "Incident report"),
    "clock.support_reply": ("サポート回答", "Support reply"),
    "state.running": ("進行中", "running"),
    "state.paused": ("一時停止", "paused"),
    "state.stopped": ("停止", "stopped"),
    "state.pending": ("未開始", "not started"),
    "level.ok": ("余裕あり", "on time"),
    "level.warn": ("警告", "warning"),
    "level.breach": ("違反", "breached"),
    "no_due": ("期限なし（除外中）", "no due (excluded)"),
    "action.contacted": ("顧客連絡済み", "Customer contacted"),
    "action.reported": ("報告書提出済み", "Report delivered"),
    "action.confirm": ("記録する", "Confirm"),
    "action.cancel": ("キャンセル", "Cancel"),
    "action.confirm_contacted": (
        "インシデント #{id} の顧客連絡を記録しますか？連絡クロックが止まります。",
        "Record the customer contact for incident #{id}? This stops its contact clock.",
    ),
    "action.confirm_reported": (
        "インシデント #{id} の報告書提出を記録しますか？報告クロックが止まります。",
        "Record the report delivery for incident #{id}? This stops its report clock.",
    ),
    "action.at": ("実施日時（空欄は現在）", "When (empty: now)"),
    "action.at_help": (
        "過去の日時を入れる場合は理由が必要です。",
        "A time in the past needs a reason.",
    ),
    "action.reason": ("理由", "Reason"),
    "action.note": ("メモ", "Note"),
    "done.contacted": (
        "インシデント #{id} の顧客連絡を記録しました。",
        "Contact recorded for incident #{id}.",
    ),
    "done.reported": (
        "インシデント #{id} の報告書提出を記録しました。",
        "Report recorded for incident #{id}.",
    ),
    "done.assigned": ("アラート #{id} を割り当てました。", "Alert #{id} assigned."),
    "error.title": ("実行できませんでした", "Not done"),
    "error.forbidden": ("この操作の権限がありません。", "Your role may not do this."),
    "error.csrf": (
        "フォームの確認トークンが無効です。ページを再読み込みしてください。",
        "The form's token is missing or wrong; reload the page and try again.",
    ),
    "error.not_found": ("見つかりません。", "Not found."),
    "error.bad_instant": (
        "日時の形式が正しくありません。",
        "The time is not a valid date and time.",
    ),
    "problem.reason-required": (
        "過去の日時には理由が必要です。",
        "A time in the past needs a reason.",
    ),
    "problem.future-instant": ("未来の日時は指定できません。", "The time lies in the future."),
    "problem.already-contacted": ("顧客連絡は記録済みです。", "The contact is recorded already."),
    "problem.already-reported": ("報告書提出は記録済みです。", "The report is recorded already."),
    "problem.not-contacted": (
        "先に顧客連絡を記録してください。",
        "Record the customer contact before the report.",
    ),
    "problem.before-detection": ("検知より前の日時です。", "That is before the detection."),
    "problem.before-contact": ("顧客連絡より前の日時です。", "That is before the contact."),
    "problem.already-assigned": ("割当済みのアラートです。", "The alert is assigned already."),
    "problem.not-found": ("見つかりません。", "Not found."),
    "incident.title": ("インシデント", "Incident"),
    "incident.alerts": ("アラート", "Alerts"),
    "incident.timeline": ("タイムライン", "Timeline"),
    "incident.clocks": ("クロック", "Clocks"),
    "incident.moved": ("期限を動かした記録", "Why the deadline moved"),
    "incident.no_moves": ("期限の変更はありません。", "The deadline has not moved."),
    "incident.not_started": ("まだ開始していません。", "Not started yet."),
    "strip.counted": ("計上時間", "Counted"),
    "strip.excluded": ("除外時間", "Excluded"),
    "strip.now": ("現在", "now"),
    "strip.ahead": ("予定", "planned"),
    "fact.start": ("開始", "start"),
    "fact.stop": ("停止", "stop"),
    "fact.due": ("期限変更", "due moved"),
    "alerts.title": ("未割当アラート", "Unassigned alerts"),
    "alerts.empty": ("未割当のアラートはありません。", "No alert waits for a resource."),
    "alerts.assign": ("リソースに割当", "Assign to resource"),
    "windows.title": ("メンテナンスウィンドウと監視障害", "Maintenance windows and faults"),
    "windows.empty": ("ウィンドウはありません。", "No windows."),
    "windows.synced": ("ソース同期", "source-synchronised"),
    "windows.recurring": ("繰り返し", "recurring"),
    "windows.open": ("継続中", "open"),
    "windows.filter": ("絞り込み", "Filter"),
    "windows.all": ("すべて", "all"),
    "windows.calendar": ("今後 14 日間", "The next 14 days"),
    "windows.list": ("一覧（新しい順）", "All, newest first"),
    "weekday.0": ("月", "Mon"),
    "weekday.1": ("火", "Tue"),
    "weekday.2": ("水", "Wed"),
    "weekday.3": ("木", "Thu"),
    "weekday.4": ("金", "Fri"),
    "weekday.5": ("土", "Sat"),
    "weekday.6": ("日", "Sun"),
    "notices.title": ("プロバイダー通知", "Provider notices"),
    "notices.empty": ("通知はありません。", "No provider notices."),
    "notices.customers": ("影響顧客", "Customers"),
    "notices.unmapped": ("未対応付け", "unmapped"),
    "sources.title": ("ソース状態", "Source health"),
    "sources.empty": ("ソースは設定されていません。", "No sources."),
    "sources.last_poll": ("最終ポーリング", "Last poll"),
    "sources.last_accepted": ("最終受信", "Last accepted"),
    "sources.last_rejected": ("最終拒否", "Last rejected"),
    "sources.failures": ("連続失敗", "Failures"),
    "sources.fault": ("監視障害", "Open fault"),
    "sources.ok": ("正常", "ok"),
    "sources.failing": ("異常", "failing"),
}


def translator(language: str) -> Callable[..., str]:
    """`t(key, **values)` in `language` (English for a language not offered)."""
    index = 0 if language == "ja" else 1

    def t(key: str, **values: object) -> str:
        pair = MESSAGES.get(key)
        text = pair[index] if pair else key
        return text.format(**values) if values else text

    return t
