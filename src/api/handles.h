// What the C handles are, and the exception boundary every C function goes
// through: moeasr::Error becomes its status, bad_alloc MOEASR_ERR_OUT_OF_MEMORY,
// anything else MOEASR_ERR_INTERNAL; the message lands in moeasr_last_error().
#pragma once

#include <atomic>
#include <cstring>
#include <memory>
#include <new>

#include "api/status.h"
#include "core/error.h"
#include "runtime/adapter_set.h"
#include "runtime/asr_model.h"
#include "runtime/stream.h"

// Magic numbers catch a wrong pointer type or a freed handle (best effort).
constexpr uint32_t kModelMagic = 0x4D4F454D;   // "MOEM"
constexpr uint32_t kStreamMagic = 0x4D4F4553;  // "MOES"
constexpr uint32_t kAdapterSetMagic = 0x4D4F4541;  // "MOEA"
constexpr uint32_t kDeadMagic = 0xDEADDEAD;

struct moeasr_model {
  uint32_t magic = kModelMagic;
  std::shared_ptr<const moeasr::AsrModel> model;
};

struct moeasr_adapter_set {
  uint32_t magic = kAdapterSetMagic;
  std::shared_ptr<const moeasr::AdapterSet> set;
};

struct moeasr_stream {
  uint32_t magic = kStreamMagic;
  std::shared_ptr<const moeasr::AsrModel> model;  // keeps the model alive past moeasr_model_free
  std::unique_ptr<moeasr::Stream> stream;
  mutable std::atomic<bool> busy{false};
};

namespace moeasr::api {

// A result as a C struct; the caller frees it with moeasr_result_free.
moeasr_result* result_to_c(const RecognitionResult& r);

inline moeasr_status fail(moeasr_status status, const std::string& message) {
  set_last_error(message);
  return status;
}

// Runs `body` (returning void), converting every exception into a status.
template <typename Fn>
moeasr_status guarded(const char* function, Fn&& body) {
  try {
    body();
    return MOEASR_OK;
  } catch (const Error& e) {
    return fail(e.status(), std::string(function) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    return fail(MOEASR_ERR_OUT_OF_MEMORY, std::string(function) + ": out of memory");
  } catch (const std::exception& e) {
    return fail(MOEASR_ERR_INTERNAL, std::string(function) + ": internal error: " + e.what());
  } catch (...) {
    return fail(MOEASR_ERR_INTERNAL, std::string(function) + ": internal error");
  }
}

inline const moeasr_model& checked(const moeasr_model* m) {
  MOEASR_CHECK(m, MOEASR_ERR_INVALID_ARGUMENT, "model is NULL");
  MOEASR_CHECK(m->magic == kModelMagic, MOEASR_ERR_INVALID_ARGUMENT, "not a live moeasr_model handle");
  return *m;
}

inline const moeasr_stream& checked(const moeasr_stream* s) {
  MOEASR_CHECK(s, MOEASR_ERR_INVALID_ARGUMENT, "stream is NULL");
  MOEASR_CHECK(s->magic == kStreamMagic, MOEASR_ERR_INVALID_ARGUMENT, "not a live moeasr_stream handle");
  return *s;
}

inline const moeasr_adapter_set& checked(const moeasr_adapter_set* a) {
  MOEASR_CHECK(a, MOEASR_ERR_INVALID_ARGUMENT, "adapter set is NULL");
  MOEASR_CHECK(a->magic == kAdapterSetMagic, MOEASR_ERR_INVALID_ARGUMENT, "not a live moeasr_adapter_set handle");
  return *a;
}

// Marks a stream as in use by this call; a second thread entering the same
// stream gets MOEASR_ERR_STATE instead of corrupting it.
class StreamUse {
 public:
  explicit StreamUse(const moeasr_stream* s) : s_(checked(s)) {
    MOEASR_CHECK(!s_.busy.exchange(true), MOEASR_ERR_STATE,
                 "stream is being used by another thread (a stream is for one thread at a time)");
  }
  ~StreamUse() { s_.busy.store(false); }
  StreamUse(const StreamUse&) = delete;
  StreamUse& operator=(const StreamUse&) = delete;
  Stream& stream() const { return *s_.stream; }

 private:
  const moeasr_stream& s_;
};

// Copies a caller's options struct over the defaults: only the bytes the
// caller's struct_size covers. Older (shorter) structs keep the newer fields'
// defaults; a struct_size larger than this library knows is rejected.
template <typename T>
T read_options(const T* user, const T& defaults, size_t min_size, const char* name) {
  if (!user) return defaults;
  MOEASR_CHECK(user->struct_size >= min_size && user->struct_size <= sizeof(T), MOEASR_ERR_INVALID_ARGUMENT, name,
               ".struct_size is ", user->struct_size, "; expected ", sizeof(T),
               " (initialize it with the matching *_default_options function)");
  T out = defaults;
  std::memcpy(static_cast<void*>(&out), user, user->struct_size);
  out.struct_size = sizeof(T);
  return out;
}

}  // namespace moeasr::api
