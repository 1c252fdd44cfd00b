"""Evidence channels: images and examples -> calibrated relevance matrices."""

from screenstate.embeddings.factory import EncoderOptions, create_encoder, list_encoders

__all__ = ["EncoderOptions", "create_encoder", "list_encoders"]
