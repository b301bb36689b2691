"""Learned fusion: weights fitted to judgments or clicks, globally or per query
(`hybrid learn`). Pure: numpy only."""
