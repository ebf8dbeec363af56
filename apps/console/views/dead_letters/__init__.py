"""The dead-letter pages: groups, the filtered list, the sequenced view, one dead letter, bulk replay jobs."""
