// C API: logging and the model handle.
#include <cstddef>

#include "api/handles.h"
#include "core/logging.h"
#include "formats/weight_spec.h"

using moeasr::api::checked;
using moeasr::api::guarded;

extern "C" {

moeasr_status moeasr_set_log_callback(moeasr_log_callback callback, void* user_data, moeasr_log_level min_level) {
  return guarded("moeasr_set_log_callback", [&] {
    const int level = moeasr::enum_value(min_level);
    MOEASR_CHECK(level >= MOEASR_LOG_DEBUG && level <= MOEASR_LOG_ERROR, MOEASR_ERR_INVALID_ARGUMENT,
                 "unknown log level ", level);
    moeasr::set_log_callback(callback, user_data, static_cast<moeasr_log_level>(level));
  });
}

moeasr_status moeasr_model_default_options(moeasr_model_options* options) {
  return guarded("moeasr_model_default_options", [&] {
    MOEASR_CHECK(options, MOEASR_ERR_INVALID_ARGUMENT, "options is NULL");
    options->struct_size = sizeof(moeasr_model_options);
    options->threads = 1;
    options->device = "cpu";
    options->compute_type = "default";
    options->compute_experts_only = 0;
  });
}

moeasr_status moeasr_model_load(const char* model_dir, const moeasr_model_options* options,
                                moeasr_model** out_model) {
  if (out_model) *out_model = nullptr;
  return guarded("moeasr_model_load", [&] {
    MOEASR_CHECK(out_model, MOEASR_ERR_INVALID_ARGUMENT, "out_model is NULL");
    MOEASR_CHECK(model_dir, MOEASR_ERR_INVALID_ARGUMENT, "model_dir is NULL");
    moeasr_model_options defaults;
    moeasr_model_default_options(&defaults);
    // 0.1's struct ended after `device`.
    const size_t v1_size = offsetof(moeasr_model_options, device) + sizeof(const char*);
    const moeasr_model_options o = moeasr::api::read_options(options, defaults, v1_size, "moeasr_model_options");
    moeasr::ModelOptions mo;
    mo.threads = o.threads;
    mo.device = o.device ? o.device : "cpu";
    mo.compute_type = o.compute_type ? o.compute_type : "default";
    mo.compute_experts_only = o.compute_experts_only != 0;
    auto handle = std::make_unique<moeasr_model>();
    handle->model = moeasr::AsrModel::load(model_dir, mo);
    const moeasr::ModelConfig& c = handle->model->config();
    for (const std::string& w : c.warnings) moeasr::log_warning(w);
    moeasr::log_info("loaded ", model_dir, ": conformer ", c.encoder.num_blocks, " x ", c.encoder.d_model,
                     c.encoder.ffn.kind == moeasr::FfnKind::kMoe ? moeasr::str_cat(", MoE ", c.encoder.ffn.num_experts, " experts top-",
                                                            c.encoder.ffn.top_k)
                     : c.encoder.ffn.kind == moeasr::FfnKind::kMot ? moeasr::str_cat(", Mixture of Tokens ", c.encoder.ffn.num_experts,
                                                            " experts, groups of ", c.encoder.ffn.group_size,
                                                            handle->model->encoder().mixes_examples()
                                                                ? " utterances (moeasr_decode_batch only)"
                                                                : " frames")
                     : c.encoder.ffn.kind == moeasr::FfnKind::kSoftMoe ? moeasr::str_cat(", Soft MoE ", c.encoder.ffn.num_experts, " experts x ",
                                                            c.encoder.ffn.slots_per_expert, " slots")
                                          : std::string(", dense FFN"),
                     c.encoder.adapter.type == moeasr::AdapterType::kNone      ? ""
                     : c.encoder.adapter.type == moeasr::AdapterType::kSoftMoa ? ", Soft-MoA adapters"
                                                                               : ", dense MoA adapters",
                     ", vocab ", c.vocab_size, ", ", handle->model->num_parameters(), " parameters");
    *out_model = handle.release();
  });
}

moeasr_status moeasr_model_free(moeasr_model* model) {
  if (!model) return MOEASR_OK;
  return guarded("moeasr_model_free", [&] {
    checked(model);
    model->magic = kDeadMagic;
    delete model;
  });
}

moeasr_status moeasr_model_token(const moeasr_model* model, int32_t id, const char** out_token) {
  if (out_token) *out_token = nullptr;
  return guarded("moeasr_model_token", [&] {
    MOEASR_CHECK(out_token, MOEASR_ERR_INVALID_ARGUMENT, "out_token is NULL");
    const moeasr::SymbolTable& units = checked(model).model->units();
    MOEASR_CHECK(id >= 0 && id < units.size(), MOEASR_ERR_INVALID_ARGUMENT, "token id ", id, " is outside [0, ",
                 units.size(), ")");
    *out_token = units.token(id).c_str();
  });
}

moeasr_status moeasr_model_get_info(const moeasr_model* model, moeasr_model_info* info) {
  return guarded("moeasr_model_get_info", [&] {
    const moeasr_model& m = checked(model);
    MOEASR_CHECK(info, MOEASR_ERR_INVALID_ARGUMENT, "info is NULL");
    MOEASR_CHECK(info->struct_size >= sizeof(size_t) + sizeof(int32_t), MOEASR_ERR_INVALID_ARGUMENT,
                 "info->struct_size is ", info->struct_size, "; set it to sizeof(moeasr_model_info)");
    const moeasr::ModelConfig& c = m.model->config();
    moeasr_model_info full;
    full.struct_size = sizeof(full);
    full.sample_rate = c.fbank.sample_rate;
    full.vocab_size = c.vocab_size;
    full.encoder_layers = c.encoder.num_blocks;
    full.d_model = c.encoder.d_model;
    full.num_experts = c.encoder.ffn.has_experts() ? c.encoder.ffn.num_experts : 0;
    full.experts_per_token = c.encoder.ffn.kind == moeasr::FfnKind::kMoe ? c.encoder.ffn.top_k : 0;
    full.mot_group_size = c.encoder.ffn.kind == moeasr::FfnKind::kMot ? c.encoder.ffn.group_size : 0;
    full.mot_cross_example = m.model->encoder().mixes_examples() ? 1 : 0;
    full.trained_for_chunks = c.encoder.trained_for_chunks() ? 1 : 0;
    full.default_chunk_size = c.encoder.default_chunk_size();
    full.has_decoder = m.model->decoder() ? 1 : 0;
    full.num_parameters = m.model->num_parameters();
    full.frame_ms = m.model->frame_ms();
    const size_t n = std::min(info->struct_size, sizeof(full));
    std::memcpy(static_cast<void*>(info), &full, n);
    info->struct_size = n;
  });
}

}  // extern "C"
