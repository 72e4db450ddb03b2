"""``slad source setup|check zabbix <instance>``: connect a Zabbix server to slad through its API.

`setup` is idempotent: it imports (or updates) the slad media type and sets its
``slad_secret`` and ``slad_instance``, gives one Zabbix user the media (Send to: the
instance's webhook URL), and creates or updates the action ``slad <instance>`` that
sends problems to that user and notifies all involved of recoveries and updates. Zabbix
reads actions and media from its configuration cache, so a change takes effect at the
server's next cache update (``CacheUpdateFrequency``, 60 s by default) unless the cache
is reloaded (``zabbix_server -R config_cache_reload`` on the server host).

`check` proves the instance's side: the API answers with the configured token, the
media type exists with this instance's name and secret, and the action is enabled.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors.source import CheckStep
from connectors.zabbix.api import ZabbixApiError, ZabbixClient
from connectors.zabbix.config import ZabbixInstance

MEDIA_TYPE_FILE = Path(__file__).resolve().parents[2] / "deploy" / "zabbix" / "slad_mediatype.yaml"
MEDIA_TYPE = "slad"
_ALL_SEVERITIES = 63
_ALWAYS = "1-7,00:00-24:00"
_SEND_MESSAGE, _NOTIFY_ALL_INVOLVED_RECOVERY, _NOTIFY_ALL_INVOLVED_UPDATE = 0, 11, 12
_HOST_GROUP_CONDITION, _EQUALS = 0, 0


def action_name(instance: ZabbixInstance) -> str:
    return f"slad {instance.name}"


def setup(client: ZabbixClient, instance: ZabbixInstance, options: Mapping[str, str]) -> list[str]:
    """Configure the Zabbix side of `instance`; the steps done, for the operator.

    `options`: ``url`` (the instance's webhook URL as Zabbix reaches it), ``user`` (the
    Zabbix user that gets the media), and optionally ``host_groups`` (comma-separated
    names the action is limited to; all problems without it).
    """
    url, username = options.get("url"), options.get("user")
    if not url or not username:
        raise ValueError("setup needs --url (slad's webhook URL for Zabbix) and --user")
    done: list[str] = []
    media_id = _media_type(client, instance, done)
    user_id = _user_media(client, username, media_id, url, done)
    groups = [g.strip() for g in options.get("host_groups", "").split(",") if g.strip()]
    _action(client, instance, media_id, user_id, _group_ids(client, groups), done)
    return done


def check(client: ZabbixClient, instance: ZabbixInstance) -> list[CheckStep]:
    """API reachable with the token; media type and action in place for this instance."""
    try:
        client.call("host.get", {"output": ["hostid"], "limit": 1})
    except ZabbixApiError as exc:
        return [CheckStep("API reachable with the configured token", False, str(exc))]
    steps = [CheckStep("API reachable with the configured token", True, instance.api_url)]
    media = client.call(
        "mediatype.get",
        {"output": ["mediatypeid", "parameters", "status"], "filter": {"name": MEDIA_TYPE}},
    )
    params = {p["name"]: p["value"] for p in media[0]["parameters"]} if media else {}
    steps.append(
        CheckStep(
            "media type slad has this instance's name and secret",
            params.get("slad_instance") == instance.name
            and params.get("slad_secret") == instance.webhook_secret,
            "missing" if not media else f"slad_instance = {params.get('slad_instance')!r}",
        )
    )
    actions = client.call(
        "action.get", {"output": ["actionid", "status"], "filter": {"name": action_name(instance)}}
    )
    steps.append(
        CheckStep(
            f"action {action_name(instance)!r} enabled",
            bool(actions) and str(actions[0]["status"]) == "0",
            "missing" if not actions else f"status {actions[0]['status']}",
        )
    )
    return steps


def _media_type(client: ZabbixClient, instance: ZabbixInstance, done: list[str]) -> str:
    client.call(
        "configuration.import",
        {
            "format": "yaml",
            "source": MEDIA_TYPE_FILE.read_text(encoding="utf-8"),
            "rules": {"mediaTypes": {"createMissing": True, "updateExisting": True}},
        },
    )
    media = client.call(
        "mediatype.get", {"output": ["mediatypeid", "parameters"], "filter": {"name": MEDIA_TYPE}}
    )[0]
    values = {"slad_secret": instance.webhook_secret, "slad_instance": instance.name}
    parameters = [
        {"name": p["name"], "value": values.get(p["name"], p["value"])} for p in media["parameters"]
    ]
    client.call("mediatype.update", {"mediatypeid": media["mediatypeid"], "parameters": parameters})
    done.append(f"media type {MEDIA_TYPE!r} imported, secret and instance {instance.name!r} set")
    return str(media["mediatypeid"])


def _user_media(
    client: ZabbixClient, username: str, media_id: str, url: str, done: list[str]
) -> str:
    users = client.call(
        "user.get",
        {"output": ["userid"], "selectMedias": "extend", "filter": {"username": username}},
    )
    if not users:
        raise ValueError(f"Zabbix has no user {username!r}; create it (it must see the hosts)")
    user = users[0]
    kept = [
        {k: m[k] for k in ("mediatypeid", "sendto", "active", "severity", "period")}
        for m in user.get("medias", [])
        if str(m["mediatypeid"]) != media_id
    ]
    mine = {
        "mediatypeid": media_id,
        "sendto": url,
        "active": 0,
        "severity": _ALL_SEVERITIES,
        "period": _ALWAYS,
    }
    client.call("user.update", {"userid": user["userid"], "medias": [*kept, mine]})
    done.append(f"user {username!r} sends to {url} via {MEDIA_TYPE!r}")
    return str(user["userid"])


def _group_ids(client: ZabbixClient, names: list[str]) -> list[str]:
    if not names:
        return []
    found = client.call("hostgroup.get", {"output": ["groupid", "name"], "filter": {"name": names}})
    missing = sorted(set(names) - {str(g["name"]) for g in found})
    if missing:
        raise ValueError(f"Zabbix has no host group(s) {', '.join(missing)}")
    return [str(g["groupid"]) for g in found]


def _action(
    client: ZabbixClient,
    instance: ZabbixInstance,
    media_id: str,
    user_id: str,
    group_ids: list[str],
    done: list[str],
) -> None:
    body: dict[str, Any] = {
        "status": 0,
        "esc_period": "1h",
        "filter": {
            "evaltype": 0,
            "conditions": [
                {"conditiontype": _HOST_GROUP_CONDITION, "operator": _EQUALS, "value": g}
                for g in group_ids
            ],
        },
        "operations": [
            {
                "operationtype": _SEND_MESSAGE,
                "opmessage": {"default_msg": 1, "mediatypeid": media_id},
                "opmessage_usr": [{"userid": user_id}],
            }
        ],
        "recovery_operations": [
            {"operationtype": _NOTIFY_ALL_INVOLVED_RECOVERY, "opmessage": {"default_msg": 1}}
        ],
        "update_operations": [
            {"operationtype": _NOTIFY_ALL_INVOLVED_UPDATE, "opmessage": {"default_msg": 1}}
        ],
    }
    name = action_name(instance)
    existing = client.call("action.get", {"output": ["actionid"], "filter": {"name": name}})
    if existing:
        client.call("action.update", {"actionid": existing[0]["actionid"], **body})
        done.append(f"action {name!r} updated")
    else:
        client.call("action.create", {"name": name, "eventsource": 0, **body})
        done.append(f"action {name!r} created")
