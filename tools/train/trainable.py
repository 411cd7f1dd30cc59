"""Batched training forward of the reference U2++ model (tools/moeasr_ref).

The reference runs one utterance at a time for inference; here the same modules run
on a padded batch: padding masks on attention keys and decoder memory, WeNet's
dynamic chunk mask on encoder self-attention (so one model serves full attention
and every chunk size), dropout on every residual branch (as WeNet's dropout_rate),
and the router logits of every MoE layer recorded for a load-balancing term.
Nothing here changes the reference's inference path or its state_dict keys.
"""

import torch
from torch import nn
from torch.nn import functional as F

import masks
from losses import (add_sos_eos, attention_accuracy, ctc_loss, label_smoothing_loss,
                    load_balance_loss, reverse_padded)
from moeasr_ref.ffn import MoEFFNLayer


def _dropout_hook(rate):
    def hook(module, inputs, output):
        if not module.training or rate <= 0:
            return output
        if isinstance(output, tuple):
            return (F.dropout(output[0], rate, True),) + tuple(output[1:])
        return F.dropout(output, rate, True)
    return hook


class Trainable(nn.Module):
    """Wraps moeasr_ref.ASRModel; `self.model.state_dict()` is the WeNet state_dict."""

    def __init__(self, model, ctc_weight=0.3, reverse_weight=0.3, lsm_weight=0.1,
                 dropout=0.1, balance_weight=0.01, max_chunk=25, dynamic_chunk=True):
        super().__init__()
        self.model = model
        self.ctc_weight = ctc_weight
        self.reverse_weight = reverse_weight
        self.lsm_weight = lsm_weight
        self.balance_weight = balance_weight
        self.max_chunk = max_chunk
        self.dynamic_chunk = dynamic_chunk
        hook = _dropout_hook(dropout)
        enc = model.encoder
        enc.embed.register_forward_hook(hook)
        for layer in enc.encoders:
            for name in ("feed_forward", "feed_forward_macaron", "self_attn", "conv_module"):
                sub = getattr(layer, name)
                if sub is not None:
                    sub.register_forward_hook(hook)
        for dec in self._decoders():
            dec.embed.register_forward_hook(hook)
            for layer in dec.decoders:
                for sub in (layer.self_attn, layer.src_attn, layer.feed_forward):
                    sub.register_forward_hook(hook)
        self._gate_logits = []
        self.moe_layers = [m for m in model.modules() if isinstance(m, MoEFFNLayer)]
        for moe in self.moe_layers:
            moe.gate.register_forward_hook(self._record_gate(moe))

    def _decoders(self):
        dec = self.model.decoder
        if hasattr(dec, "left_decoder"):
            return [dec.left_decoder, dec.right_decoder]
        return [dec]

    def _record_gate(self, moe):
        def hook(module, inputs, output):
            if self.training:
                self._gate_logits.append((moe, output))
        return hook

    def encode(self, feats, feat_lens, chunk=None):
        """feats (B, T, F) padded, feat_lens (B,) -> (out (B, T', d), frame mask (B, T'),
        chunk used). chunk None: dynamic draw when training with dynamic_chunk, else
        full attention; chunk <= 0: full attention."""
        enc = self.model.encoder
        x = enc.global_cmvn(feats) if enc.global_cmvn is not None else feats
        x, pos_emb = enc.embed(x)
        lens = masks.subsampled_lengths(feat_lens)
        frame_mask = masks.length_mask(lens, x.size(1))
        t = x.size(1)
        if chunk is None:
            chunk = (masks.draw_dynamic_chunk(t, max_chunk=self.max_chunk)
                     if self.training and self.dynamic_chunk else t)
        elif chunk <= 0:
            chunk = t
        att_mask = masks.encoder_attention_mask(frame_mask, chunk)
        for layer in enc.encoders:
            x = layer(x, pos_emb, mask=att_mask)[0]
        return enc._finish(x), frame_mask, chunk

    def forward(self, feats, feat_lens, ys, ys_lens, chunk=None):
        """Returns a dict of losses (loss is the one to minimise) and stats."""
        self._gate_logits = []
        out, frame_mask, chunk = self.encode(feats, feat_lens, chunk)
        frame_lens = frame_mask.sum(1)
        stats = {"chunk": chunk}
        loss_ctc = ctc_loss(self.model.ctc.ctc_lo(out), frame_lens, ys, ys_lens,
                            self.model.blank_id)
        memory_mask = frame_mask.unsqueeze(1)
        sos, eos = self.model.sos, self.model.eos
        ys_in, ys_out = add_sos_eos(ys, ys_lens, sos, eos)
        dec = self._decoders()
        logits = dec[0](ys_in, out, memory_mask, log_softmax=False)
        loss_att = label_smoothing_loss(logits, ys_out, self.lsm_weight)
        stats["acc"] = attention_accuracy(logits, ys_out)
        if self.reverse_weight > 0 and len(dec) == 2:
            r_in, r_out = add_sos_eos(reverse_padded(ys, ys_lens), ys_lens, sos, eos)
            r_logits = dec[1](r_in, out, memory_mask, log_softmax=False)
            r_loss = label_smoothing_loss(r_logits, r_out, self.lsm_weight)
            loss_att = (1 - self.reverse_weight) * loss_att + self.reverse_weight * r_loss
        loss = self.ctc_weight * loss_ctc + (1 - self.ctc_weight) * loss_att
        balance = torch.tensor(0.0, device=loss.device)
        if self._gate_logits:
            balance = sum(load_balance_loss(logit.reshape(-1, logit.size(-1)),
                                            moe.n_expert_activated)
                          for moe, logit in self._gate_logits) / len(self._gate_logits)
        stats.update(loss_ctc=loss_ctc.item(), loss_att=loss_att.item(),
                     balance=balance.item())
        total = loss + self.balance_weight * balance
        self._gate_logits = []
        return total, stats
