"""What an operator sees: structured logs (logs) and metrics (metrics); traces to come."""
