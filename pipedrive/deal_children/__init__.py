"""Deal children: the tables fed per deal (products, field changes, stage changes, participants,
followers).

It owns the persistent queue of deals still owed their children and the token budget it is
drained within (`queue`), the shaping of changelog items into change and stage-change rows
(`changelog`), and the dlt transformers that queue the deals of each listing page and fetch their
children through the shared client, per deal or 100 deals per request (`transformers`).
"""

from .transformers import deal_child_resources

__all__ = ["deal_child_resources"]
