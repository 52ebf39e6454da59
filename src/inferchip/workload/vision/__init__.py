"""Vision workloads: bundled networks expanded from their files, and ONNX graphs, as typed layer records."""
