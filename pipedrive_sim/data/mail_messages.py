"""Mail messages linked to a deal (the `mailMessage` items of the v1 deal flow).

Mail is not stored: a deal's messages are derived on demand, deterministically from the
account seed and the deal id. The shape is the v1 `MailMessageData` schema
(`GET /mailbox/mailMessages/{id}`) with the extra keys of the `mailMessage` item in the spec's
`GET /deals/{id}/flow` example (`attachments`, `nylas_id`, `item_type`, `timestamp`, ...).
"""

from __future__ import annotations

import random
from typing import Any

from .reference_records import COMPANY_ID
from .timestamps import v2_ts

#: Share of deals with mail, and the most messages such a deal has.
MAIL_SHARE = 0.3
MAX_MESSAGES = 3


def _party(pid: int, email: str, name: str, person_id: int | None) -> dict[str, Any]:
    return {"id": pid, "email_address": email, "name": name, "linked_person_id": person_id,
            "linked_person_name": name if person_id else "", "mail_message_party_id": pid}


def _attachment(msg_id: int, deal: dict[str, Any], user_id: int, stamp: str) -> dict[str, Any]:
    """A file attached to a mail message (v1 file shape, as in the spec's flow example)."""
    name = f"attachment-{msg_id}.pdf"
    return {
        "id": msg_id, "user_id": user_id, "deal_id": deal["id"], "person_id": deal.get("person_id"),
        "org_id": deal.get("org_id"), "product_id": None, "activity_id": None, "lead_id": None,
        "project_id": None, "log_id": None, "add_time": stamp, "update_time": stamp, "file_name": name,
        "file_type": "pdf", "file_size": 1000 + msg_id % 90_000, "active_flag": True, "inline_flag": False,
        "remote_location": "s3", "remote_id": name, "cid": "", "s3_bucket": "", "mail_message_id": "",
        "mail_template_id": "", "deal_name": deal["title"], "person_name": "", "people_name": "",
        "org_name": "", "product_name": "", "lead_name": "", "project_name": "",
        "url": f"https://example.pipedrive.com/api/v1/files/{msg_id}/download", "name": name, "description": "",
    }


def mail_messages(seed: int, deal: dict[str, Any], add_ts: int, end_ts: int,
                  person: dict[str, Any] | None) -> list[tuple[int, dict[str, Any]]]:
    """A deal's mail messages as `(epoch seconds, message)` pairs, oldest first.

    Args:
        seed: Account seed.
        deal: The v2 deal record.
        add_ts: The deal's creation time (epoch seconds).
        end_ts: No message is later than this (epoch seconds).
        person: The deal's contact person (v2), or None.
    """
    rng = random.Random(seed * 5_000_011 + deal["id"])
    if rng.random() >= MAIL_SHARE:
        return []
    out = []
    user_id = deal["owner_id"]
    email = ((person or {}).get("emails") or [{}])[0].get("value") or f"contact{deal['id']}@example.com"
    name = (person or {}).get("name") or ""
    person_id = (person or {}).get("id")
    for k in range(rng.randint(1, MAX_MESSAGES)):
        ts = rng.randint(add_ts, max(add_ts, end_ts))
        stamp = v2_ts(ts).replace("Z", ".000Z")
        msg_id = deal["id"] * 10 + k
        sent = rng.random() < 0.5
        attached = rng.random() < 0.3
        me = _party(msg_id * 2, f"user{user_id}@simco.example", f"User {user_id}", None)
        them = _party(msg_id * 2 + 1, email, name, person_id)
        out.append((ts, {
            "attachments": [_attachment(msg_id, deal, user_id, stamp[:19].replace("T", " "))] if attached else [],
            "id": msg_id, "from": [me if sent else them], "to": [them if sent else me], "cc": [], "bcc": [],
            "body_url": f"https://example.pipedrive.com/mail/{msg_id}/body",
            "nylas_id": f"nylas{msg_id:016x}", "account_id": f"account{user_id:08x}", "user_id": user_id,
            "mail_thread_id": deal["id"] * 10, "subject": f"Re: {deal['title']}"[:200],
            "snippet": f"About {deal['title']}"[:225], "mail_tracking_status": rng.choice(("opened", "not opened")),
            "mail_link_tracking_enabled_flag": 0, "read_flag": 1, "draft": "", "s3_bucket": "",
            "s3_bucket_path": "", "draft_flag": 0, "synced_flag": 1, "deleted_flag": 0,
            "external_deleted_flag": False, "has_body_flag": 1, "sent_flag": int(sent),
            "sent_from_pipedrive_flag": int(sent), "smart_bcc_flag": 0, "message_time": stamp,
            "add_time": stamp, "update_time": stamp, "has_attachments_flag": int(attached),
            "has_inline_attachments_flag": 0, "has_real_attachments_flag": int(attached),
            "mua_message_id": f"{msg_id}@mailer.example.com", "template_id": None,
            "item_type": "mailMessage", "timestamp": stamp, "company_id": COMPANY_ID,
        }))
    return out
