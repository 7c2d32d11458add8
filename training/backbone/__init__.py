"""The pretrained backbone: its checkpoint reader, its Keras network and its import."""
