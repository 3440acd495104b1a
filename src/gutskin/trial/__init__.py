"""In-silico randomized acne trials: runner, endpoints and statistics."""
