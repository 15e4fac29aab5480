"""The sans-IO Kafka wire-protocol codec: frames, schemas per API version, record batches."""
