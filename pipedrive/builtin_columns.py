"""Built-in record keys per table, from the item schemas of the official specs.

Two uses: a custom field never takes one of these column names, even when the `*Fields` endpoint
does not list the built-in (deal `currency`, the lead keys that share the deal field set); and
`schema_hints` types the known columns of a table before its first row arrives.
"""

from typing import FrozenSet, Mapping

_DEAL = (
    "activities_count acv add_time arr channel channel_id close_time currency custom_fields "
    "done_activities_count email_messages_count expected_close_date files_count first_won_time "
    "followers_count id is_archived is_deleted label_ids last_activity_id last_incoming_mail_time "
    "last_outgoing_mail_time lost_reason lost_time mrr next_activity_id notes_count org_id origin "
    "origin_id owner_id participants_count person_id pipeline_id probability products_count "
    "smart_bcc_email source_lead_id stage_change_time stage_id status title "
    "undone_activities_count update_time value visible_to won_time archive_time"
)
# leads carry the deal custom fields next to their own keys
_LEAD = (
    "add_time cc_email channel channel_id creator_id expected_close_date id is_archived label_ids "
    "next_activity_id organization_id origin origin_id owner_id person_id source_deal_id "
    "source_name title update_time value visible_to was_seen"
)
_PERSON = (
    "activities_count add_time birthday closed_deals_count custom_fields doi_status "
    "done_activities_count email_messages_count emails files_count first_name followers_count id "
    "im is_deleted job_title label_ids last_activity_id last_incoming_mail_time last_name "
    "last_outgoing_mail_time lost_deals_count marketing_status name next_activity_id notes "
    "notes_count open_deals_count org_id owner_id participant_closed_deals_count "
    "participant_open_deals_count phones picture_id postal_address related_closed_deals_count "
    "related_lost_deals_count related_open_deals_count related_won_deals_count smart_bcc_email "
    "undone_activities_count update_time visible_to won_deals_count"
)
_ORGANIZATION = (
    "activities_count add_time address annual_revenue closed_deals_count custom_fields "
    "done_activities_count email_messages_count employee_count files_count followers_count id "
    "industry is_deleted label_ids last_activity_id linkedin lost_deals_count name "
    "next_activity_id notes_count open_deals_count owner_id people_count "
    "related_closed_deals_count related_lost_deals_count related_open_deals_count "
    "related_won_deals_count smart_bcc_email undone_activities_count update_time visible_to "
    "website won_deals_count"
)
_ACTIVITY = (
    "add_time attendees busy conference_meeting_client conference_meeting_id "
    "conference_meeting_url creator_user_id deal_id done due_date due_time duration id is_deleted "
    "lead_id location marked_as_done_time note org_id owner_id participants person_id priority "
    "project_id public_description subject type update_time"
)
_PRODUCT = (
    "add_time billing_frequency billing_frequency_cycles category code custom_fields description "
    "id is_deleted is_linkable name owner_id prices tax unit update_time visible_to"
)
# + `is_archived`: not in the v2 item schema, the source flags rows of `/projects/archived`
_PROJECT = (
    "add_time archive_time board_id custom_fields deal_ids description end_date health_status id "
    "is_archived label_ids org_ids owner_id person_ids phase_id start_date status "
    "status_change_time title update_time"
)
_NOTE = (
    "active_flag add_time content deal deal_id id last_update_user_id lead_id org_id organization "
    "person person_id pinned_to_deal_flag pinned_to_organization_flag pinned_to_person_flag "
    "pinned_to_project_flag pinned_to_task_flag project project_id task task_id update_time user "
    "user_id"
)

_TASK = (
    "add_time assignee_ids creator_id description due_date id is_done is_milestone "
    "marked_as_done_time parent_task_id priority project_id start_date title update_time"
)
# the lead `value` object is flattened into these columns
_LEAD_FLATTENED = "value__amount value__currency"

RECORD_KEYS: Mapping[str, FrozenSet[str]] = {
    "deals": frozenset(_DEAL.split()),
    "leads": frozenset(_LEAD.split()) | frozenset(_LEAD_FLATTENED.split()),
    "persons": frozenset(_PERSON.split()),
    "organizations": frozenset(_ORGANIZATION.split()),
    "activities": frozenset(_ACTIVITY.split()),
    "products": frozenset(_PRODUCT.split()),
    "projects": frozenset(_PROJECT.split()),
    "tasks": frozenset(_TASK.split()),
    "notes": frozenset(_NOTE.split()),
}
"""Top-level record keys per table (v2 item schema + `include_fields`, v1 item schema)."""
