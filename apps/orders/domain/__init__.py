"""The order domain in plain Python: aggregates decide, events record what happened."""
