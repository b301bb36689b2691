"""Encoders turn text, images and audio into float32 unit vectors.

Load one by name with `load_encoder("minilm")`; the model modules are imported only
then, so importing this package stays light.
"""

from hybrid.encoders.base import DecodeError, Encoder, EncoderError, device, normalize
from hybrid.encoders.registry import ENCODERS, load_encoder

__all__ = ["ENCODERS", "DecodeError", "Encoder", "EncoderError", "device", "load_encoder",
           "normalize"]
