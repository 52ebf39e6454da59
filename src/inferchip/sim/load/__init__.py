"""What the simulated server is sent: request lengths, arrival processes (Poisson, burst, closed loop, trace,
harness batcher) and request traces read from files."""
