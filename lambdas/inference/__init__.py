"""The inference Lambda: live TFLite models from the store, answering for one tray image."""
