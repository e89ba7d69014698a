"""Edge-case scenarios for bench/edge/run.sh; each module has run(ctx)."""
