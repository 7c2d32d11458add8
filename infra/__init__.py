"""The CDK app that deploys traygo, and `traygo submit` that starts its jobs."""
