"""traygo: what the deployable parts share (storage, images, registry, labels, config)."""

__version__ = "0.1.0"
