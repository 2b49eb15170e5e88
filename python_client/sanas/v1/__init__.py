"""Generated protobuf and gRPC stubs of the sanas.v1 schema (`make proto`); do not edit."""
