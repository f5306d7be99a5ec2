"""The reload pipeline: load -> what changed -> serial -> sign -> diff -> commit -> publish,
the journal it commits to, and the per-zone event queue."""
