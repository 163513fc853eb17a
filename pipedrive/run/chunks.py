"""Chunks of a run: which listings stopped before their last page (`listings.limit_pages` flags
them in their resource state) and what the next chunk runs - those listings and the deal children
they feed, nothing else."""

from typing import Any, Collection, List, Mapping

from ..entities import DEAL_CHILDREN, DEAL_LISTINGS, child_resource_name
from ..listings import MORE_PAGES_KEY


def listings_with_more_pages(source_state: Mapping[str, Any]) -> List[str]:
    """Names of the listings whose last chunk stopped before the end of their listing.

    Args:
        source_state: The source's state, `pipeline.state["sources"]["pipedrive"]`.
    """
    resources = source_state.get("resources") or {}
    return sorted(
        name for name, state in resources.items() if isinstance(state, Mapping) and state.get(MORE_PAGES_KEY)
    )


def next_chunk(selected: Collection[str], with_more_pages: Collection[str]) -> List[str]:
    """Resources the next chunk runs: the selected listings with more pages and the selected deal
    children they feed (empty when the run is complete).

    Args:
        selected: Names of the resources the run selected.
        with_more_pages: Listings that stopped before their end.
    """
    wanted = {name for name in with_more_pages if name in selected}
    for listing in DEAL_LISTINGS:
        if listing in wanted:
            wanted.update(
                name for child in DEAL_CHILDREN if (name := child_resource_name(child, listing)) in selected
            )
    return sorted(wanted)
