"""Collections: curated, ordered lists of repos (and of other collections) that a user or an org
owns, public or private, as the Hub's collection API serves them (`/api/collections...`).

- access.py: who may see and change a collection (the collection's own chokepoint);
- selectors.py: the items a caller may see (repos through `gating.policy`'s visibility);
- serializers.py: the Hub's JSON; services.py: every write; api.py and portal.py: the edges.
"""
