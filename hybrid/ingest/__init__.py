"""Vector ingest: which vectors a product needs, and the task that computes them."""
