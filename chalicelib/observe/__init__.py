"""What an operator sees: structured logs (logs), and later metrics and traces."""
