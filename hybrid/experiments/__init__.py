"""Online experiments over fusion profiles, pure (no I/O): experiments as data and their
bucketing, UBI event validation, interleaving and multileaving with credit assignment,
statistics and reports, and click models for simulating users."""
