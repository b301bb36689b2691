"""The search shell: runs the planner's plans against an engine and the encoders,
decodes query uploads, and keeps fusion profiles beside the index."""
