// C API: adapter sets loaded on top of a model and chosen per stream.
#include <memory>

#include "api/handles.h"
#include "core/logging.h"
#include "moeasr/moeasr.h"

using moeasr::api::checked;
using moeasr::api::guarded;
using moeasr::api::StreamUse;

moeasr_status moeasr_adapter_set_load(const moeasr_model* model, const char* adapter_dir,
                                      moeasr_adapter_set** out_set) {
  if (out_set) *out_set = nullptr;
  return guarded("moeasr_adapter_set_load", [&] {
    MOEASR_CHECK(out_set, MOEASR_ERR_INVALID_ARGUMENT, "out_set is NULL");
    MOEASR_CHECK(adapter_dir, MOEASR_ERR_INVALID_ARGUMENT, "adapter_dir is NULL");
    const moeasr_model& m = checked(model);
    auto handle = std::make_unique<moeasr_adapter_set>();
    handle->set = moeasr::AdapterSet::load(adapter_dir, *m.model);
    const moeasr::AdapterConfig& c = handle->set->config();
    moeasr::log_info("loaded adapter set ", adapter_dir, ": ",
                     c.type == moeasr::AdapterType::kSoftMoa ? "soft_moa" : "dense_moa", ", ", c.num_experts,
                     " adapters of ", c.dim);
    *out_set = handle.release();
  });
}

moeasr_status moeasr_adapter_set_free(moeasr_adapter_set* set) {
  if (!set) return MOEASR_OK;
  return guarded("moeasr_adapter_set_free", [&] {
    checked(set);
    set->magic = kDeadMagic;
    delete set;
  });
}

moeasr_status moeasr_stream_set_adapters(moeasr_stream* stream, const moeasr_adapter_set* set) {
  return guarded("moeasr_stream_set_adapters", [&] {
    StreamUse use(stream);
    use.stream().set_adapters(set ? checked(set).set : nullptr);
  });
}
