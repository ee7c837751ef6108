"""What runs the work: the episode pipeline, the scheduler's jobs, the daily prune, the Dramatiq workers."""
