"""The offline batch: complete utterances decoded together with full attention, as
moeasr_decode_batch does.

Everything except the FFN blocks runs on each utterance alone, exactly as in the
single-utterance forward (no padding ever reaches attention or convolution). The FFN
blocks run on the padded (B, T, d) batch with each utterance's length, so a Mixture-of-
Tokens layer with cross-example grouping mixes the utterances as it was trained:
utterances [jG, jG + G) form set j and position t of a set is one group. For a model
without such a layer every utterance's output equals its own full forward.
"""

import torch

from .decode import Decoded
from .mot import MixtureOfTokens
from .search import attention_rescoring, ctc_prefix_beam_search


def _ffn(block, x, lengths):
    return block(x, lengths) if isinstance(block, MixtureOfTokens) else block(x)


def _layer(layer, x, lengths, pos_emb, masks):
    """One ConformerEncoderLayer over the padded batch x (B, T, d)."""
    if layer.feed_forward_macaron is not None:
        x = x + layer.ff_scale * _ffn(layer.feed_forward_macaron, layer.norm_ff_macaron(x), lengths)
    x = x.clone()
    for b, length in enumerate(lengths):
        if length == 0:
            continue
        xb = x[b:b + 1, :length]
        att, _ = layer.self_attn(layer.norm_mha(xb), pos_emb[:, :length], None, masks[b])
        xb = xb + att
        if layer.conv_module is not None:
            conv, _ = layer.conv_module(layer.norm_conv(xb), None)
            xb = xb + conv
        x[b, :length] = xb[0]
    x = x + layer.ff_scale * _ffn(layer.feed_forward, layer.norm_ff(x), lengths)
    if layer.conv_module is not None:
        x = layer.norm_final(x)
    return x


def encode_batch(model, feats_list):
    """fbank list [(T_i, input_dim)] -> encoder outputs [(T'_i, d)]; an utterance with
    fewer than 7 frames has no output frames but keeps its place in its set."""
    encoder = model.encoder
    d = encoder.opts["output_size"]
    embedded = []
    for feats in feats_list:
        if feats.size(0) < encoder.embed.right_context + 1:  # the input layer gives no output
            embedded.append(torch.zeros(0, d))
            continue
        x = feats.unsqueeze(0)
        if encoder.global_cmvn is not None:
            x = encoder.global_cmvn(x)
        embedded.append(encoder.embed(x)[0][0])
    lengths = [e.size(0) for e in embedded]
    longest = max(lengths, default=0)
    x = torch.zeros(len(embedded), longest, d)
    for b, e in enumerate(embedded):
        x[b, :e.size(0)] = e
    pos_emb = encoder.embed.position_encoding(0, longest)
    masks = [encoder._static_chunk_mask(length, x.device) for length in lengths]
    for layer in encoder.encoders:
        x = _layer(layer, x, lengths, pos_emb, masks)
    x = encoder._finish(x)
    return [x[b, :length] for b, length in enumerate(lengths)]


def decode_batch(model, feats_list, beam_size, ctc_weight, reverse_weight):
    """Decoded (see decode.py) per utterance: CTC prefix beam search and attention
    rescoring of each utterance's own encoder output."""
    results = []
    with torch.no_grad():
        for encoder_out in encode_batch(model, feats_list):
            logprobs = model.ctc_logprobs(encoder_out)
            nbest = ctc_prefix_beam_search(logprobs, beam_size, model.blank_id)
            rescoring, best = attention_rescoring(model, encoder_out, nbest, ctc_weight,
                                                  reverse_weight)
            results.append(Decoded(encoder_out, logprobs, nbest, rescoring, best))
    return results
