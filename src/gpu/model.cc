#include "gpu/model.h"

#include "core/error.h"

namespace moeasr::gpu {

cuda::MoeGemm parse_moe_gemm(const std::string& name) {
  if (name == "grouped") return cuda::MoeGemm::kGrouped;
  if (name == "cublas_grouped") return cuda::MoeGemm::kCublasGrouped;
  if (name == "loop") return cuda::MoeGemm::kPerExpertLoop;
  throw_error(MOEASR_ERR_INVALID_ARGUMENT, "unknown MoE GEMM mode '", name,
              "' (expected grouped, cublas_grouped or loop)");
}

void GpuModel::check_supported(const ModelConfig& config) {
  const EncoderConfig& e = config.encoder;
  auto refuse = [](const std::string& feature) {
    throw_error(MOEASR_ERR_UNSUPPORTED, "the CUDA backend does not run ", feature,
                " yet; load this model with device \"cpu\"");
  };
  if (e.ffn.mot) refuse("Mixture of Tokens FFN layers (mlp_type: mot)");
  if (e.ffn.soft) refuse("Soft MoE FFN layers (mlp_type: soft_moe)");
  if (e.adapter.type != AdapterType::kNone) refuse("mixtures of adapters (adapter_type in encoder_conf)");
  if (config.decoder.type != DecoderType::kNone && (config.decoder.ffn.mot || config.decoder.ffn.soft)) {
    refuse("Mixture of Tokens or Soft MoE in the decoder");
  }
  if (e.use_cnn_module && !e.causal && e.cnn_kernel % 2 == 0) {
    refuse("a non-causal convolution module with an even kernel");
  }
}

GpuModel::GpuModel(int device_index, const ModelConfig& config, const Encoder& encoder,
                   const AttentionDecoder* decoder, const LinearWeights& ctc, cuda::MoeGemm gemm)
    : gemm_(gemm) {
  check_supported(config);
  ctx_ = cuda::Context::open(device_index);
  weights_ = std::make_unique<DeviceWeights>(*ctx_);
  encoder_ = std::make_unique<GpuEncoder>(*weights_, encoder, ctc, config.vocab_size);
  if (decoder) decoder_ = std::make_unique<GpuDecoder>(*weights_, config, *decoder);
  ctx_->synchronize();  // surface a failed upload here, at load
}

GpuModel::~GpuModel() = default;

const std::string& GpuModel::device_name() const { return ctx_->name(); }
int GpuModel::device_index() const { return ctx_->index(); }
size_t GpuModel::weight_bytes() const { return weights_->bytes(); }

std::unique_ptr<GpuEncoderState> GpuModel::new_state() const {
  return std::make_unique<GpuEncoderState>(&mutex_);
}

void GpuModel::encode(std::vector<EncoderChunk>& chunks, const std::vector<GpuEncoderState*>& states, bool want_rows,
                      Tensor& host, Tensor& rows, Tensor& log_probs) const {
  std::lock_guard<std::mutex> guard(mutex_);
  encoder_->forward(*ctx_, chunks, states, want_rows, encoder_ws_, gemm_, host, rows, log_probs);
}

std::vector<HypothesisScores> GpuModel::score(const float* memory, int64_t frames,
                                              const std::vector<std::vector<int>>& hyps, bool with_r2l) const {
  MOEASR_CHECK(decoder_, MOEASR_ERR_INTERNAL, "rescoring on a model without a decoder");
  std::lock_guard<std::mutex> guard(mutex_);
  return decoder_->score(*ctx_, memory, frames, hyps, with_r2l, decoder_ws_, gemm_);
}

}  // namespace moeasr::gpu
