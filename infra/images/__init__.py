"""Building the job images with podman and smoke-testing them (`make images`)."""
