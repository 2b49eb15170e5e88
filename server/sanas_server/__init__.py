"""The sanas controller: annealer (pure), study state machine, storage, gRPC service."""
