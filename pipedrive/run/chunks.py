"""Chunks of a run: which listings stopped before their last page (`listings.limit_pages` flags
them in their resource state), which tables the data showed to be stale (`schedule.due_now`), and
what the next chunk runs - those listings with the deal children they feed, and those tables."""

from typing import Any, Collection, List, Mapping

from ..entities import DEAL_CHILDREN, DEAL_LISTINGS, child_resource_name
from ..fields.definitions import MAPPING_TABLE
from ..schedule import MORE_PAGES_KEY


def listings_with_more_pages(source_state: Mapping[str, Any]) -> List[str]:
    """Names of the listings whose last chunk stopped before the end of their listing.

    Args:
        source_state: The source's state, `pipeline.state["sources"]["pipedrive"]`.
    """
    resources = source_state.get("resources") or {}
    return sorted(
        name for name, state in resources.items() if isinstance(state, Mapping) and state.get(MORE_PAGES_KEY)
    )


def next_chunk(selected: Mapping[str, str], with_more_pages: Collection[str], due: Collection[str] = ()) -> List[str]:
    """Resources the next chunk runs: the selected listings with more pages and the selected deal
    children they feed, and the writers of the tables due now (empty when the run is complete).

    Args:
        selected: Resource -> table of the resources the run selected.
        with_more_pages: Listings that stopped before their end.
        due: Tables to read now (`pipedrive.schedule.due_now`).
    """
    wanted = {name for name in with_more_pages if name in selected}
    wanted |= {name for name, table in selected.items() if table in due}
    if any(table.endswith("_fields") for table in due) and MAPPING_TABLE in selected:
        wanted.add(MAPPING_TABLE)
    for listing in DEAL_LISTINGS:
        if listing in wanted:
            wanted.update(
                name for child in DEAL_CHILDREN if (name := child_resource_name(child, listing)) in selected
            )
    return sorted(wanted)
