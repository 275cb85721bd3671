"""DDL and data functions exactly as past revisions ran them.

A module here is never edited once a revision imports it: a revision that needs different
DDL gets a new module with the next version suffix (``fulltext_v2`` beside ``fulltext_v1``).
Nothing here imports application code, so changing the application never changes what an old
revision does to a fresh database.
"""
