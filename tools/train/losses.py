"""U2++ training losses with WeNet's definitions (wenet/models/transformer/ctc.py,
label_smoothing_loss.py, asr_model.py _calc_att_loss, utils/common.py add_sos_eos and
reverse_pad_list).

  loss     = ctc_weight * loss_ctc + (1 - ctc_weight) * loss_att
  loss_ctc = CTCLoss(sum, zero_infinity) / batch
  loss_att = (1 - reverse_weight) * LS(l2r) + reverse_weight * LS(r2l)
  LS       = KL(smoothed one-hot || softmax) summed over real tokens / batch
             (length_normalized_loss: false)
"""

import torch
from torch.nn import functional as F

IGNORE_ID = -1


def add_sos_eos(ys, lens, sos, eos):
    """ys (B, L) padded with anything, lens (B,) -> (ys_in (B, L+1) = [sos] + y padded
    with eos, ys_out (B, L+1) = y + [eos] padded with IGNORE_ID)."""
    b, length = ys.shape
    dev = ys.device
    pos = torch.arange(length + 1, device=dev).unsqueeze(0)
    ys_in = torch.full((b, length + 1), eos, dtype=torch.long, device=dev)
    ys_in[:, 0] = sos
    ys_in[:, 1:] = torch.where(pos[:, :-1] < lens.unsqueeze(1), ys,
                               torch.tensor(eos, device=dev))
    ys_out = torch.full((b, length + 1), IGNORE_ID, dtype=torch.long, device=dev)
    ys_out[:, :length] = torch.where(pos[:, :-1] < lens.unsqueeze(1), ys,
                                     torch.tensor(IGNORE_ID, device=dev))
    ys_out[torch.arange(b, device=dev), lens] = eos
    return ys_in, ys_out


def reverse_padded(ys, lens):
    """Reverse the first lens[b] tokens of every row (padding stays at the end)."""
    out = ys.clone()
    for b, n in enumerate(lens.tolist()):
        out[b, :n] = ys[b, :n].flip(0)
    return out


def ctc_loss(logits, frame_lens, ys, ys_lens, blank=0):
    """logits (B, T, V) from ctc_lo -> WeNet's batch-averaged CTC loss."""
    logp = logits.log_softmax(-1).transpose(0, 1)
    loss = F.ctc_loss(logp, ys, frame_lens, ys_lens, blank=blank, reduction="sum",
                      zero_infinity=True)
    return loss / logits.size(0)


def label_smoothing_loss(logits, target, smoothing):
    """KL(true_dist || softmax(logits)) with true_dist = 1 - s on the target and
    s / (V - 1) elsewhere, summed over non-ignored positions, divided by the batch size."""
    b, _, v = logits.shape
    logits = logits.reshape(-1, v)
    target = target.reshape(-1)
    keep = target != IGNORE_ID
    logp = logits[keep].log_softmax(-1)
    tgt = target[keep]
    off = smoothing / (v - 1)
    on = 1.0 - smoothing
    # sum_v q_v (log q_v - logp_v) with q = off everywhere except `on` at the target
    dev = logits.device
    const = ((v - 1) * off * torch.log(torch.tensor(off, device=dev))
             + on * torch.log(torch.tensor(on, device=dev))
             if smoothing > 0 else torch.tensor(0.0, device=dev))
    cross = off * logp.sum(-1) + (on - off) * logp.gather(1, tgt.unsqueeze(1)).squeeze(1)
    return (const * keep.sum() - cross.sum()) / b


def attention_accuracy(logits, target):
    keep = target != IGNORE_ID
    return (logits.argmax(-1)[keep] == target[keep]).float().mean().item()


def load_balance_loss(gate_logits, top_k):
    """Switch-Transformer style auxiliary loss for one MoE layer (not in WeNet; a
    training aid only): E * sum_e f_e * P_e, f_e = share of the top-k slots routed to
    expert e, P_e = mean router probability. 1.0 when perfectly balanced."""
    n_expert = gate_logits.size(-1)
    probs = gate_logits.float().softmax(-1)
    chosen = gate_logits.topk(top_k, dim=-1).indices
    dev = gate_logits.device
    f = torch.zeros(n_expert, device=dev).scatter_add_(
        0, chosen.reshape(-1), torch.ones(chosen.numel(), device=dev)) / chosen.numel()
    return n_expert * (f * probs.mean(0)).sum()
