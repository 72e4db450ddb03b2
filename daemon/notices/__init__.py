"""Provider notices (SPEC section 6): kept, mapped, turned into windows, forwarded once.

`record_notices(session, notices, now)` is the one entry point for sources: it keeps
what a provider said in the caller's transaction. `NoticeWorker` applies what was kept:
`provider_maintenance` windows and the `provider_notice` notifications.
"""

from daemon.notices.store import NoticeResult, record_notices
from daemon.notices.worker import NoticeWorker

__all__ = ["NoticeResult", "NoticeWorker", "record_notices"]
