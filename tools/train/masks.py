"""Padding and chunk masks for batched training, with WeNet's semantics
(wenet/utils/mask.py: make_pad_mask, subsequent_chunk_mask, add_optional_chunk_mask).
True = attend / a real frame."""

import torch


def length_mask(lengths, max_len=None):
    """(B,) lengths -> (B, max_len) bool, True on the first lengths[b] positions."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def subsampled_lengths(lengths):
    """fbank frames -> Conv2dSubsampling4 output frames: WeNet slices the mask as
    x_mask[:, :, 2::2][:, :, 2::2], which keeps ((L - 1) // 2 - 1) // 2 frames."""
    return torch.div(torch.div(lengths - 1, 2, rounding_mode="floor") - 1, 2,
                     rounding_mode="floor")


def chunk_mask(size, chunk, num_left_chunks=-1, device=None):
    """(size, size): frame i sees every frame from the start of its allowed left
    context up to the end of its own chunk."""
    index = torch.arange(size, device=device)
    chunk_start = torch.div(index, chunk, rounding_mode="floor") * chunk
    chunk_end = chunk_start + chunk
    if num_left_chunks < 0:
        start = torch.zeros_like(index)
    else:
        start = torch.clamp(chunk_start - num_left_chunks * chunk, min=0)
    cols = index.unsqueeze(0)
    return (cols < chunk_end.unsqueeze(1)) & (cols >= start.unsqueeze(1))


def draw_dynamic_chunk(max_len, generator=None, max_chunk=25):
    """WeNet's dynamic chunk draw (use_dynamic_chunk, full context enabled):
    c ~ U[1, max_len); c > max_len // 2 -> full attention (returns max_len),
    else c % max_chunk + 1. Needs max_len >= 2."""
    c = int(torch.randint(1, max(max_len, 2), (1,), generator=generator))
    if c > max_len // 2:
        return max_len
    return c % max_chunk + 1


def encoder_attention_mask(frame_mask, chunk):
    """frame_mask (B, T) -> (B, T, T): padding of the keys & the chunk mask."""
    t = frame_mask.size(1)
    return frame_mask.unsqueeze(1) & chunk_mask(t, chunk, device=frame_mask.device).unsqueeze(0)
