"""Built-in strategies. Copy one to start your own (see ``phantom_pipeline.strategy``)."""
