"""The training job: labelled images in, a verified TFLite model in the registry out."""
