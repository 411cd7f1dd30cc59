// The efficient conformer's two layer kinds (WeNet's EfficientConformerEncoder),
// on the op layer like the rest of the encoder:
// - grouped attention: rel_selfattn over rows of group_size consecutive frames
//   (a [T, d] matrix read as [T / g, g * d], heads of g * d_k columns), the
//   queries and the keys (cached ones first) zero-padded to whole groups;
// - a strided layer: its depthwise convolution keeps every other output
//   (conv_block), its residual is average-pooled over frame pairs, and the
//   layers after it run at half the frame rate with every other position row.
//
// Streaming follows WeNet's forward_chunk: a layer after strides caches its
// own frames, 1 / rate of the stream's cached rows, and its position rows are
// the input layer's every rate-th. That bookkeeping is exact when every chunk
// but an utterance's last has a multiple of the total stride of frames, which
// the stream requires (runtime/stream.cc); WeNet's other cases realign rows.
#include <algorithm>

#include "asr/encoder.h"
#include "core/error.h"
#include "ops/ops.h"

namespace moeasr {

namespace {

int64_t round_up(int64_t n, int64_t g) { return (n + g - 1) / g * g; }

float* row_ptr(Tensor& t, int64_t row, int64_t width) { return t.data<float>() + row * width; }

}  // namespace

void Encoder::grouped_attention(Backend& be, const Layer& layer, const std::vector<EncoderChunk>& chunks,
                                const std::vector<CacheView>& views, EncoderWorkspace& ws) const {
  const int64_t d = config_.d_model, g = layer.group;
  // Zero rows after each stream's keys (this chunk's are appended), up to a
  // whole group: WeNet pads keys, values and projected positions with zeros.
  std::vector<RowCopy> pads;
  int64_t rows = 0;
  size_t v = 0;
  for (const EncoderChunk& c : chunks) {
    if (c.out_frames == 0) continue;
    const CacheView& view = views[v++];
    const int64_t keys = view.len + c.out_frames, pad = round_up(keys, g) - keys;
    if (pad > 0) {
      for (float* base : {view.keys, view.values, view.positions}) {
        pads.push_back({base + keys * d, zero_rows_.data<float>(), static_cast<int32_t>(pad)});
      }
    }
    rows += round_up(c.out_frames, g);
  }
  if (!pads.empty()) be.copy_rows(pads, d);
  // The queries of each stream, zero-padded to whole groups.
  ws.qg.resize({rows, d}, be.device());
  ws.attg.resize({rows, d}, be.device());
  if (rows) ops::fill_zero(be, ws.qg);
  std::vector<RowCopy> in, out;
  std::vector<AttentionJob> jobs;
  int64_t row = 0;
  v = 0;
  for (const EncoderChunk& c : chunks) {
    if (c.out_frames == 0) continue;
    const CacheView& view = views[v++];
    const int32_t t = static_cast<int32_t>(c.out_frames);
    in.push_back({row_ptr(ws.qg, row, d), ws.q.data<float>() + c.out_row * d, t});
    jobs.push_back({row_ptr(ws.qg, row, d), row_ptr(ws.attg, row, d), view.keys, view.values, view.positions,
                    static_cast<int32_t>(round_up(t, g) / g), static_cast<int32_t>(round_up(view.len + t, g) / g), 0});
    out.push_back({ws.att.data<float>() + c.out_row * d, row_ptr(ws.attg, row, d), t});
    row += round_up(t, g);
  }
  if (jobs.empty()) return;
  be.copy_rows(in, d);
  // Rows of g * d, heads of g * d_k columns: scale 1 / sqrt(g * d_k), as WeNet's.
  be.rel_pos_attention(jobs, g * d, layer.pos_bias_u.data<float>(), layer.pos_bias_v.data<float>(), config_.heads,
                       static_cast<int>(g * config_.d_k()));
  be.copy_rows(out, d);
}

void Encoder::downsample(Backend& be, std::vector<EncoderChunk>& chunks, FfnBatch& batch, EncoderWorkspace& ws) const {
  const int64_t d = config_.d_model;
  // Output frame j of a chunk pools its frames 2j and 2j + 1, or 2j alone at
  // the end of an odd chunk (AvgPool1d with ceil_mode and
  // count_include_pad=False): the mean of the rows `first` and `second`,
  // where a lone frame is its own second ((a + a) / 2 is a exactly).
  std::vector<int32_t> first, second;
  int64_t row = 0;
  batch.segments.assign(1, 0);
  for (EncoderChunk& c : chunks) {
    const int64_t t = (c.out_frames + 1) / 2;
    for (int64_t j = 0; j < t; ++j) {
      first.push_back(static_cast<int32_t>(c.out_row + 2 * j));
      second.push_back(static_cast<int32_t>(c.out_row + std::min(2 * j + 1, c.out_frames - 1)));
    }
    c.out_row = row;
    c.out_frames = t;
    row += t;
    batch.segments.push_back(row);
  }
  ws.branch1.resize({row, d}, be.device());
  ws.branch2.resize({row, d}, be.device());
  if (row) {
    be.gather_rows(ws.x.data<float>(), d, first, 0.f, ws.branch1.data<float>());
    be.gather_rows(ws.x.data<float>(), d, second, 0.f, ws.branch2.data<float>());
    ops::add_scaled(be, ws.branch1, ws.branch2, 1.f);
    ops::scale(be, ws.branch1, 0.5f);
    // The layers after this one see every other position row (WeNet: pos_emb[:, ::2]).
    be.gather_rows(ws.p_in.data<float>(), d, first, 0.f, ws.branch2.data<float>());
  }
  std::swap(ws.x, ws.branch1);
  std::swap(ws.p_in, ws.branch2);
}

}  // namespace moeasr
