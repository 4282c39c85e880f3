"""Decoders: small networks trained to write the text a space's embedding came from (ClipCap's prefix idea, from scratch).

`train_decoder(space, sources, out)` trains one (`unembed train-decoder`); `load_decoder(folder, space)`
loads and checks one; `shipped_decoder(space)` is the one unembed ships for a space's text embeddings, if
any. The `decoder[:DIR]` generator (unembed.generators.decoder) puts one in the MILS loop.
"""

from .decoder import Decoder, load_decoder, shipped_decoder
from .model import Architecture, DecoderNetwork
from .training import TrainingSettings, train_decoder

__all__ = ["Decoder", "load_decoder", "shipped_decoder", "Architecture", "DecoderNetwork", "TrainingSettings", "train_decoder"]
