/*
 * moeasr — streaming speech recognition with U2++ Mixture-of-Experts models.
 *
 * This is the only header an application needs. It is C99-clean.
 *
 * Conventions
 *  - Every function returns a moeasr_status. On failure, moeasr_last_error()
 *    returns a message for the calling thread. No function aborts or exits
 *    the process, whatever its input.
 *  - Handles are opaque and typed. A moeasr_model is immutable after load and
 *    may be shared by any number of threads and streams. A moeasr_stream holds
 *    one utterance and must be used by one thread at a time (a second thread
 *    entering the same stream gets MOEASR_ERR_STATE).
 *  - Every *_free(NULL) is a no-op returning MOEASR_OK.
 *  - Options structs are filled by moeasr_*_default_options() and carry
 *    struct_size first; new fields are only ever appended, so a program built
 *    against an older header keeps working.
 *  - Ownership is stated on every function: "caller frees with X" or
 *    "owned by moeasr".
 *  - Streams are isolated: no computation mixes the streams that
 *    moeasr_decode_streams batches, so one user's audio cannot leak into
 *    another's result. Batching can change only float rounding: a GEMM over
 *    more rows may take another kernel, which moves a stream's scores in the
 *    last bits (and, where two paths of its beam are that close, their
 *    order). Decoded alone, a stream is deterministic. The one exception
 *    is a model trained to mix utterances (Mixture of Tokens across examples),
 *    which runs only in moeasr_decode_batch, over utterances the application
 *    passes together; streams refuse such a model.
 *
 * Typical use
 *    moeasr_model* model;  moeasr_stream* stream;  moeasr_result* result;
 *    moeasr_model_load("model_dir", NULL, &model);
 *    moeasr_stream_create(model, NULL, &stream);
 *    for each piece of audio:
 *      moeasr_stream_accept_waveform(stream, samples, n, 16000);
 *      moeasr_stream_decode(stream);                  // runs the ready chunks
 *      moeasr_stream_get_partial_result(stream, &result); ... moeasr_result_free(result);
 *    moeasr_stream_input_finished(stream);
 *    moeasr_stream_decode(stream);                    // last chunk + rescoring
 *    moeasr_stream_get_final_result(stream, &result); ... moeasr_result_free(result);
 *    moeasr_stream_free(stream);  moeasr_model_free(model);
 *
 * Long or endless audio (continuous decoding, as moeasr-decode does for long
 * files): cut it into utterances at endpoints, so time and memory per second
 * stay flat. Times in results run on over the resets (moeasr_stream_reset).
 *    int32_t endpoint;
 *    for each piece of n samples:
 *      moeasr_stream_accept_waveform(stream, samples, n, rate);
 *      moeasr_stream_decode(stream);
 *      moeasr_stream_is_endpoint(stream, &endpoint);
 *      if (endpoint) {
 *        moeasr_stream_input_finished(stream);  moeasr_stream_decode(stream);
 *        moeasr_stream_get_final_result(stream, &result);  // times from the audio's start
 *        ... moeasr_result_free(result);
 *        moeasr_stream_reset(stream);
 *      }
 *    then finish the last utterance as above.
 */
#ifndef MOEASR_MOEASR_H_
#define MOEASR_MOEASR_H_

#include <stddef.h>
#include <stdint.h>

/* The version of this header; moeasr_version() gives the library's. Structs
 * and calls marked "Added in X.Y" exist from that version on. */
#define MOEASR_VERSION_MAJOR 0
#define MOEASR_VERSION_MINOR 3
#define MOEASR_VERSION_PATCH 0

/* Full attention (chunk_size <= 0, and moeasr_decode_batch) decodes at most
 * this many seconds of audio per utterance: its cost grows with the square of
 * the length. Longer audio is decoded in chunks and cut at endpoints. */
#define MOEASR_MAX_FULL_ATTENTION_SECONDS 300

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define MOEASR_API __declspec(dllexport)
#elif defined(__GNUC__)
#define MOEASR_API __attribute__((visibility("default")))
#else
#define MOEASR_API
#endif

/* ------------------------------------------------------------------------- */
/* Status codes and errors                                                   */
/* ------------------------------------------------------------------------- */

/* Values are stable: new codes are only appended. */
typedef enum moeasr_status {
  MOEASR_OK = 0,
  MOEASR_ERR_INVALID_ARGUMENT = 1, /* NULL pointer, bad value, wrong struct_size, NaN audio */
  MOEASR_ERR_IO = 2,               /* a file is missing or cannot be read */
  MOEASR_ERR_FORMAT = 3,           /* a file is corrupt or not what it claims to be */
  MOEASR_ERR_UNSUPPORTED = 4,      /* valid input this runtime does not support (yet) */
  MOEASR_ERR_STATE = 5,            /* a call that is not allowed in the object's current state */
  MOEASR_ERR_OUT_OF_MEMORY = 6,    /* an allocation failed */
  MOEASR_ERR_DEVICE = 7,           /* a compute device cannot be opened or failed */
  MOEASR_ERR_INTERNAL = 8          /* a bug in moeasr: please report it */
} moeasr_status;

/* A static name for a status ("MOEASR_ERR_IO", ...). Never NULL; owned by moeasr. */
MOEASR_API const char* moeasr_status_string(moeasr_status status);

/* The message of the last failed call on this thread ("" if none). Owned by
 * moeasr; valid until the next failing moeasr call on this thread. */
MOEASR_API const char* moeasr_last_error(void);

/* The library version, e.g. "0.2.0" (MOEASR_VERSION_* of the header it was
 * built with). Static string owned by moeasr. */
MOEASR_API const char* moeasr_version(void);

/* ------------------------------------------------------------------------- */
/* Logging                                                                   */
/* ------------------------------------------------------------------------- */

typedef enum moeasr_log_level {
  MOEASR_LOG_DEBUG = 0,
  MOEASR_LOG_INFO = 1,
  MOEASR_LOG_WARNING = 2,
  MOEASR_LOG_ERROR = 3
} moeasr_log_level;

/* Receives one complete message (no trailing newline); `message` is valid
 * only during the call. May be called from any thread that calls moeasr. */
typedef void (*moeasr_log_callback)(moeasr_log_level level, const char* message, void* user_data);

/* Sends library messages at or above `min_level` to `callback` (NULL: silence,
 * the default). The library never prints to stdout or stderr by itself. */
MOEASR_API moeasr_status moeasr_set_log_callback(moeasr_log_callback callback, void* user_data,
                                                 moeasr_log_level min_level);

/* ------------------------------------------------------------------------- */
/* Model                                                                     */
/* ------------------------------------------------------------------------- */

typedef struct moeasr_model moeasr_model;

typedef struct moeasr_model_options {
  size_t struct_size;  /* sizeof(moeasr_model_options) */
  int32_t threads;     /* intra-op threads of one decode call; default 1 */
  const char* device;  /* "cpu" (default), or "cuda" / "cuda:N" (GPU N) in a build with the CUDA
                          backend: MOEASR_ERR_DEVICE when that GPU is missing, MOEASR_ERR_UNSUPPORTED
                          in a build without the backend or for a compute_type the GPU has no
                          kernels for (int8; README "GPU (CUDA)"). The string is copied. */
  /* Added in 0.2 (structs of 0.1's size keep the defaults): */
  const char* compute_type;      /* type of the Linear weights: "default" (as stored in the file;
                                    float16 is widened to float32 on a GPU), "float32", "bfloat16"
                                    or "int8" (converted at load); copied */
  int32_t compute_experts_only;  /* 1: convert only the MoE expert weights; default 0 */
} moeasr_model_options;

/* Fills `options` with the defaults (and sets struct_size). */
MOEASR_API moeasr_status moeasr_model_default_options(moeasr_model_options* options);

/* Loads a model directory (train.yaml, model.safetensors, units.txt) and
 * validates it completely. `options` may be NULL for the defaults.
 * On success *out_model is a new model: caller frees with moeasr_model_free.
 * On failure *out_model is set to NULL. */
MOEASR_API moeasr_status moeasr_model_load(const char* model_dir, const moeasr_model_options* options,
                                           moeasr_model** out_model);

/* Releases the caller's reference. Streams created from the model keep what
 * they need alive, so they stay valid until they are freed. */
MOEASR_API moeasr_status moeasr_model_free(moeasr_model* model);

typedef struct moeasr_model_info {
  size_t struct_size;          /* set by the caller to sizeof(moeasr_model_info) */
  int32_t sample_rate;         /* the model's audio rate (input at other rates is resampled) */
  int32_t vocab_size;
  int32_t encoder_layers;
  int32_t d_model;
  int32_t num_experts;         /* encoder FFN experts (MoE, Mixture of Tokens or Soft MoE); 0 for a dense model */
  int32_t experts_per_token;   /* top-k; 0 for a dense, Mixture-of-Tokens or Soft MoE model */
  int32_t has_decoder;         /* 1 if attention rescoring is available */
  int64_t num_parameters;      /* all weights */
  double frame_ms;             /* audio per encoder output frame (40 ms for conv2d subsampling) */
  /* Added in 0.2 (structs of 0.1's size are filled up to their size): */
  int32_t mot_group_size;      /* Mixture-of-Tokens encoder FFN: tokens per group G; 0 if none */
  int32_t mot_cross_example;   /* 1: the model mixes the tokens of different utterances (groups of
                                  G utterances): it runs only in moeasr_decode_batch, and
                                  moeasr_stream_create refuses it; 0 otherwise */
  int32_t trained_for_chunks;  /* 1: train.yaml says the model was trained for chunked (streaming)
                                  decoding (use_dynamic_chunk or static_chunk_size, and a causal
                                  convolution); 0: decode it with full attention */
  int32_t default_chunk_size;  /* the chunk_size a stream created with NULL options uses: -1 (full
                                  attention) for a model not trained for chunks, its
                                  static_chunk_size for one trained with only that, else 16 */
} moeasr_model_info;

/* Fills `info` (whose struct_size the caller sets; fields beyond it are not written). */
MOEASR_API moeasr_status moeasr_model_get_info(const moeasr_model* model, moeasr_model_info* info);

/* *out_token = the text of token `id` in the model's units.txt (owned by the
 * model, valid while it or a stream of it lives); an id outside
 * [0, vocab_size): MOEASR_ERR_INVALID_ARGUMENT. Added in 0.2. */
MOEASR_API moeasr_status moeasr_model_token(const moeasr_model* model, int32_t id, const char** out_token);

/* ------------------------------------------------------------------------- */
/* Streams                                                                   */
/* ------------------------------------------------------------------------- */

typedef struct moeasr_stream moeasr_stream;

typedef struct moeasr_stream_options {
  size_t struct_size;       /* sizeof(moeasr_stream_options) */
  int32_t chunk_size;       /* encoder frames per chunk, 40 ms each; <= 0: full attention
                               (the utterance is decoded once input is finished; at most
                               MOEASR_MAX_FULL_ATTENTION_SECONDS of audio per utterance);
                               default 16 */
  int32_t num_left_chunks;  /* attention history in chunks; < 0: unlimited; default -1.
                               Bounded history bounds the stream's memory. */
  int32_t nbest;            /* CTC beam width and hypotheses rescored, 1..1000; default 10 */
  float ctc_weight;         /* final score = attention score + ctc_weight * CTC score; default 0.5 */
  float reverse_weight;     /* weight of the right-to-left decoder, 0..1; default 0.0 */
  int32_t rescoring;        /* 1: attention rescoring at the end (when the model has a decoder); default 1 */
  int32_t timestamps;       /* 1: per-token timestamps in results; default 1 */
  /* Endpoint rules for moeasr_stream_is_endpoint (appended after 0.1; a struct_size
   * that ends before them gets the defaults). Seconds; 0 disables a rule.
   * Trailing silence = CTC frames whose blank posterior exceeds 0.8. */
  float endpoint_silence_after_text_s;   /* trailing silence after some text; default 1.0 */
  float endpoint_silence_without_text_s; /* trailing silence with no text yet; default 5.0 */
  float endpoint_max_utterance_s;        /* utterance length; default 20.0 */
  /* How the result is searched for (appended after 0.3): MOEASR_SEARCH_CTC (default:
   * CTC prefix beam search, then attention rescoring when `rescoring`) or, for a
   * model: transducer, MOEASR_SEARCH_TRANSDUCER_GREEDY (WeNet's transducer greedy
   * search, chunk by chunk; one hypothesis, scores 0, no rescoring) or
   * MOEASR_SEARCH_TRANSDUCER_BEAM (WeNet's transducer prefix beam search, beam
   * `nbest`, per-frame mix below; `score` is the beam's, no rescoring). */
  int32_t search;
  /* The transducer prefix beam search mixes each frame's probabilities as
   * log(transducer_weight * p_transducer + transducer_ctc_weight * p_ctc)
   * (appended after 0.3, after `search`; a struct_size that ends before them gets the
   * defaults, WeNet's Transducer.beam_search: 0.3 and 0.7). Finite, >= 0, not
   * both 0. WeNet's recognize.py passes its --search_ctc_weight and
   * --search_transducer_weight here. */
  float transducer_ctc_weight;
  float transducer_weight;
} moeasr_stream_options;

#define MOEASR_SEARCH_CTC 0
#define MOEASR_SEARCH_TRANSDUCER_GREEDY 1
#define MOEASR_SEARCH_TRANSDUCER_BEAM 2

MOEASR_API moeasr_status moeasr_stream_default_options(moeasr_stream_options* options);

/* Creates a stream for one utterance at a time. `options` may be NULL: the
 * defaults, with the model's own chunk size (moeasr_model_info.default_chunk_size:
 * full attention for a model not trained for chunked decoding). Chunked
 * decoding of such a model is allowed and logs a warning (once per model):
 * it runs as WeNet's chunked forward does, but no longer matches training.
 * A model that mixes utterances (moeasr_model_info.mot_cross_example = 1)
 * cannot stream: MOEASR_ERR_UNSUPPORTED (use moeasr_decode_batch).
 * Caller frees *out_stream with moeasr_stream_free. */
MOEASR_API moeasr_status moeasr_stream_create(const moeasr_model* model, const moeasr_stream_options* options,
                                              moeasr_stream** out_stream);

MOEASR_API moeasr_status moeasr_stream_free(moeasr_stream* stream);

/* Appends audio: `n` mono samples in [-1, 1] at `sample_rate` Hz (any rate;
 * resampled to the model's; one rate per utterance). Pieces may have any size,
 * including 0 and 1. NaN or Inf samples: MOEASR_ERR_INVALID_ARGUMENT and the
 * piece is ignored (the stream stays usable). After input_finished:
 * MOEASR_ERR_STATE. With full attention (chunk_size <= 0), a piece that would
 * take the utterance past MOEASR_MAX_FULL_ATTENTION_SECONDS of audio:
 * MOEASR_ERR_UNSUPPORTED, the piece ignored (full attention's cost grows with
 * the square of the length; decode long audio in chunks and cut it at
 * endpoints: "Long or endless audio" above).
 * The samples are copied. */
MOEASR_API moeasr_status moeasr_stream_accept_waveform(moeasr_stream* stream, const float* samples, size_t n,
                                                       int32_t sample_rate);
/* Same for 16-bit PCM samples. */
MOEASR_API moeasr_status moeasr_stream_accept_waveform_int16(moeasr_stream* stream, const int16_t* samples, size_t n,
                                                             int32_t sample_rate);

/* No more audio for this utterance. A second call: MOEASR_ERR_STATE. */
MOEASR_API moeasr_status moeasr_stream_input_finished(moeasr_stream* stream);

/* *out_ready = 1 when moeasr_stream_decode has work: a complete chunk, or the
 * final pass after input_finished. */
MOEASR_API moeasr_status moeasr_stream_is_ready(const moeasr_stream* stream, int32_t* out_ready);

/* *out_done = 1 once the final result is available. */
MOEASR_API moeasr_status moeasr_stream_is_done(const moeasr_stream* stream, int32_t* out_done);

/* Runs every ready chunk. After input_finished it also runs the last chunk
 * and attention rescoring, after which the stream is done. */
MOEASR_API moeasr_status moeasr_stream_decode(moeasr_stream* stream);

/* Decodes many streams of one model together: each step stacks the ready
 * chunk of every stream into ONE batched encoder forward (the MoE layers group
 * the tokens of all streams by expert), until no stream has a ready chunk;
 * then finished streams get their final pass. No computation mixes the
 * streams (see Conventions for what batching can change: float rounding
 * only). NULL, repeated or foreign streams:
 * MOEASR_ERR_INVALID_ARGUMENT (nothing is decoded). The calling thread must
 * own all `n` streams for the duration of the call. */
MOEASR_API moeasr_status moeasr_decode_streams(const moeasr_model* model, moeasr_stream* const* streams, size_t n);

/* Starts a new utterance on the same stream, keeping its buffers. Times go on:
 * the new utterance's times start where the previous one's audio ended (so
 * over a stream's life they count from its first sample; since 0.2, before
 * which every utterance started at 0). Times are int32 milliseconds: a stream
 * that runs for weeks rebases them with moeasr_stream_set_time_offset. */
MOEASR_API moeasr_status moeasr_stream_reset(moeasr_stream* stream);

/* Sets where the current utterance starts on the stream's clock, in ms: the
 * times of its results are offset_ms + their time within the utterance. 0
 * after each reset gives times from the start of each utterance. offset_ms
 * outside [0, 2^31): MOEASR_ERR_INVALID_ARGUMENT. Added in 0.2. */
MOEASR_API moeasr_status moeasr_stream_set_time_offset(moeasr_stream* stream, int64_t offset_ms);

/* *out_endpoint = 1 when the utterance has ended by the stream's endpoint
 * rules, judged on the audio decoded so far. A live application that keeps
 * one stream open asks after each decode and, on an endpoint, calls
 * input_finished, decode, get_final_result and reset: a stream that is never
 * reset keeps its whole transcript, and the memory holding it grows. */
MOEASR_API moeasr_status moeasr_stream_is_endpoint(const moeasr_stream* stream, int32_t* out_endpoint);

/* ------------------------------------------------------------------------- */
/* Adapter sets                                                              */
/* ------------------------------------------------------------------------- */

/* Mixtures of adapters (Soft-MoA or dense MoA, see docs/model_format.md)
 * loaded on top of a model from their own directory (adapters.yaml +
 * adapters.safetensors), so one model in memory serves streams fine-tuned
 * differently. Immutable after load, shared by any number of threads and
 * streams. */
typedef struct moeasr_adapter_set moeasr_adapter_set;

/* Loads and validates an adapter set for `model` (same encoder size and layer
 * count; Linear weights in the model's compute type, on the model's device).
 * On success *out_set is a new set: caller frees with moeasr_adapter_set_free.
 * On failure *out_set is set to NULL. */
MOEASR_API moeasr_status moeasr_adapter_set_load(const moeasr_model* model, const char* adapter_dir,
                                                 moeasr_adapter_set** out_set);

/* Releases the caller's reference; streams using the set keep it alive. */
MOEASR_API moeasr_status moeasr_adapter_set_free(moeasr_adapter_set* set);

/* Chooses the adapters of the stream's utterances: `set` (loaded for the
 * stream's model), or NULL for the model's own adapters (if any). Only before
 * an utterance's first input, i.e. after create or reset: otherwise
 * MOEASR_ERR_STATE. A set that does not fit the stream's model:
 * MOEASR_ERR_INVALID_ARGUMENT. The choice survives moeasr_stream_reset.
 * Streams with different sets can be decoded together (moeasr_decode_streams);
 * each gets the output of its own set. */
MOEASR_API moeasr_status moeasr_stream_set_adapters(moeasr_stream* stream, const moeasr_adapter_set* set);

/* ------------------------------------------------------------------------- */
/* Results                                                                   */
/* ------------------------------------------------------------------------- */

/* Times are milliseconds on the stream's clock (moeasr_stream_reset). A
 * token's time is the start of its CTC peak frame, which lasts
 * moeasr_model_info.frame_ms. */
typedef struct moeasr_hypothesis {
  const char* text;              /* UTF-8 */
  const int32_t* tokens;         /* num_tokens ids (moeasr_model_token gives their text) */
  size_t num_tokens;
  const int32_t* timestamps_ms;  /* num_tokens start times, or NULL without timestamps */
  double ctc_score;              /* CTC prefix score (log-prob) */
  double attention_score;        /* l2r * (1 - reverse_weight) + r2l * reverse_weight; 0 if not rescored */
  double score;                  /* attention_score + ctc_weight * ctc_score if rescored, else ctc_score */
  int32_t rescored;
} moeasr_hypothesis;

typedef struct moeasr_word {
  const char* text;  /* UTF-8 */
  int32_t start_ms;  /* start of its first token's CTC peak frame */
  int32_t end_ms;    /* end of its last token's CTC peak frame */
} moeasr_word;

typedef struct moeasr_result {
  const char* text;              /* the best hypothesis, UTF-8 */
  const int32_t* tokens;
  size_t num_tokens;
  const int32_t* timestamps_ms;  /* or NULL */
  const moeasr_hypothesis* nbest;  /* best first */
  size_t num_nbest;
  int32_t is_final;
  /* Added in 0.2: the best hypothesis's words with their times (none without
   * timestamps). A word is the tokens from one "▁" word boundary to the next,
   * or one CJK character; its text is as in `text` (for space-separated text,
   * the words joined by spaces are `text`). */
  const struct moeasr_word* words;
  size_t num_words;
} moeasr_result;

/* The CTC best path so far (not rescored). Allowed in any state.
 * Caller frees *out_result with moeasr_result_free. */
MOEASR_API moeasr_status moeasr_stream_get_partial_result(const moeasr_stream* stream, moeasr_result** out_result);

/* The final (rescored) result; MOEASR_ERR_STATE until the stream is done.
 * Caller frees *out_result with moeasr_result_free. */
MOEASR_API moeasr_status moeasr_stream_get_final_result(const moeasr_stream* stream, moeasr_result** out_result);

MOEASR_API moeasr_status moeasr_result_free(moeasr_result* result);

/* The same results as one JSON object (UTF-8, NUL-terminated):
 *   {"text", "tokens", "timestamps_ms", "words": [{"text", "start_ms", "end_ms"}], "is_final",
 *    "nbest": [{"text", "tokens", "timestamps_ms", "ctc_score", "score",
 *               "attention_score" (only when rescored)}]}
 * moeasr-decode prints the same fields.
 * Caller frees *out_json with moeasr_string_free. */
MOEASR_API moeasr_status moeasr_stream_get_partial_result_json(const moeasr_stream* stream, char** out_json);
MOEASR_API moeasr_status moeasr_stream_get_final_result_json(const moeasr_stream* stream, char** out_json);
/* The same JSON for any result, e.g. one of moeasr_decode_batch's. Caller
 * frees *out_json with moeasr_string_free. Added in 0.3. */
MOEASR_API moeasr_status moeasr_result_to_json(const moeasr_result* result, char** out_json);

MOEASR_API moeasr_status moeasr_string_free(char* str);

/* ------------------------------------------------------------------------- */
/* Offline batch: complete utterances decoded together                       */
/* ------------------------------------------------------------------------- */

/* One complete utterance for moeasr_decode_batch. */
typedef struct moeasr_audio {
  const float* samples;  /* num_samples mono samples in [-1, 1] (NULL only when num_samples is 0) */
  size_t num_samples;
  int32_t sample_rate;   /* Hz, any rate (resampled to the model's) */
} moeasr_audio;

typedef struct moeasr_batch_options {
  size_t struct_size;    /* sizeof(moeasr_batch_options) */
  int32_t nbest;         /* CTC beam width and hypotheses rescored, 1..1000; default 10 */
  float ctc_weight;      /* as in moeasr_stream_options; default 0.5 */
  float reverse_weight;  /* as in moeasr_stream_options; default 0.0 */
  int32_t rescoring;     /* 1: attention rescoring (when the model has a decoder); default 1 */
  int32_t timestamps;    /* 1: per-token timestamps in results; default 1 */
} moeasr_batch_options;

MOEASR_API moeasr_status moeasr_batch_default_options(moeasr_batch_options* options);

/* Decodes `n` complete utterances together: one batched encoder forward with
 * full attention over each utterance, then CTC prefix beam search and
 * attention rescoring per utterance. `options` may be NULL.
 *
 * This is the only call in which one utterance can influence another's
 * result, and only for a model trained that way: a Mixture-of-Tokens model
 * with cross-example grouping (moeasr_model_info.mot_cross_example = 1) mixes
 * the tokens at the same position of the utterances of a group, exactly as it
 * was trained. Groups are utterances [0, G), [G, 2G), ... in the order given
 * (G = moeasr_model_info.mot_group_size); the last group is completed with
 * absent utterances, and positions past an utterance's end are left out of
 * its group. Pass together only utterances that may be mixed (e.g. one
 * user's). With any other model, each result equals decoding that utterance
 * alone with a full-attention stream (chunk_size <= 0).
 *
 * `out_results` is an array of `n` pointers the caller provides; on success
 * out_results[i] is the final result of utterances[i]: caller frees each with
 * moeasr_result_free. On failure every entry is NULL and nothing is decoded;
 * a bad utterance (NULL samples, NaN, rate <= 0) is MOEASR_ERR_INVALID_ARGUMENT
 * naming its index. An utterance too short for one encoder frame (< 7 fbank
 * frames, about 85 ms) gets an empty result and still holds its place in its
 * group. An utterance longer than MOEASR_MAX_FULL_ATTENTION_SECONDS:
 * MOEASR_ERR_UNSUPPORTED before any work (decode long audio with a stream). */
MOEASR_API moeasr_status moeasr_decode_batch(const moeasr_model* model, const moeasr_audio* utterances, size_t n,
                                             const moeasr_batch_options* options, moeasr_result** out_results);

/* ------------------------------------------------------------------------- */
/* Reading WAV files (Added in 0.2)                                          */
/* ------------------------------------------------------------------------- */

/* `channel` value of moeasr_wave_read that averages all channels. */
#define MOEASR_WAV_MIX (-2)

typedef struct moeasr_wave {
  const float* samples;  /* num_samples samples in [-1, 1]; owned by the wave */
  size_t num_samples;
  int32_t sample_rate;   /* Hz, as the file says (streams resample) */
  int32_t truncated;     /* 1: the file stops before the size its header declares (a cut
                            recording); samples holds what is there, as sox reads it */
} moeasr_wave;

/* Reads a whole RIFF/WAVE file (PCM 8/16/24/32-bit, IEEE float 32/64, plain or
 * WAVE_FORMAT_EXTENSIBLE; "-" is standard input) as float samples, ready for
 * moeasr_stream_accept_waveform or moeasr_classify. `channel` >= 0 picks one
 * channel of a multi-channel file, MOEASR_WAV_MIX averages them, -1 accepts
 * only a mono file (else MOEASR_ERR_INVALID_ARGUMENT naming the channel count).
 * A missing file: MOEASR_ERR_IO; a corrupt header: MOEASR_ERR_FORMAT; another
 * sample format: MOEASR_ERR_UNSUPPORTED. Caller frees *out_wave with
 * moeasr_wave_free; on failure it is NULL. */
MOEASR_API moeasr_status moeasr_wave_read(const char* path, int32_t channel, moeasr_wave** out_wave);
MOEASR_API moeasr_status moeasr_wave_free(moeasr_wave* wave);

/* ------------------------------------------------------------------------- */
/* Audio classification (Audio Spectrogram Transformer)                      */
/* ------------------------------------------------------------------------- */

/* An audio classifier loaded from a classifier directory (classifier.yaml,
 * model.safetensors, labels.txt; docs/model_format.md): an Audio Spectrogram
 * Transformer, optionally with Soft-MoA or dense MoA adapters, e.g. a Hugging
 * Face ASTForAudioClassification checkpoint converted by
 * tools/convert_hf_ast.py. Immutable after load: moeasr_classify may be called
 * on one classifier from any number of threads at once (each call keeps its
 * own scratch; nothing is shared between calls).
 *
 *    moeasr_classifier* c;  moeasr_classification* r;
 *    moeasr_classifier_load("ast_dir", NULL, &c);
 *    moeasr_classify(c, samples, n, 16000, 5, &r);
 *    for (size_t i = 0; i < r->num_labels; ++i) printf("%s %.3f\n", r->labels[i].label, r->labels[i].score);
 *    moeasr_classification_free(r);  moeasr_classifier_free(c);
 */
typedef struct moeasr_classifier moeasr_classifier;

typedef struct moeasr_classifier_options {
  size_t struct_size;  /* sizeof(moeasr_classifier_options) */
  int32_t threads;     /* intra-op threads of one classify call, 1..1024; default 1 */
  const char* device;  /* "cpu" (default); anything else: MOEASR_ERR_UNSUPPORTED in this version.
                          The string is copied. */
} moeasr_classifier_options;

/* Fills `options` with the defaults (and sets struct_size). */
MOEASR_API moeasr_status moeasr_classifier_default_options(moeasr_classifier_options* options);

/* Loads and validates a classifier directory. `options` may be NULL for the
 * defaults. On success *out_classifier is new: caller frees with
 * moeasr_classifier_free. On failure *out_classifier is set to NULL. */
MOEASR_API moeasr_status moeasr_classifier_load(const char* model_dir, const moeasr_classifier_options* options,
                                                moeasr_classifier** out_classifier);

/* Frees the classifier; results already returned stay valid (they own their strings). */
MOEASR_API moeasr_status moeasr_classifier_free(moeasr_classifier* classifier);

typedef struct moeasr_classifier_info {
  size_t struct_size;        /* set by the caller to sizeof(moeasr_classifier_info) */
  int32_t sample_rate;       /* the model's audio rate (input at other rates is resampled) */
  int32_t num_labels;
  int32_t multi_label;       /* 1: scores are independent sigmoids; 0: a softmax over the labels */
  int32_t max_frames;        /* 10 ms fbank frames the model sees; longer clips are truncated */
  int32_t hidden_size;
  int32_t num_layers;
  int32_t adapter_experts;   /* adapters per mixture (Soft-MoA or dense MoA); 0 without adapters */
  int64_t num_parameters;
} moeasr_classifier_info;

/* Fills `info` (whose struct_size the caller sets; fields beyond it are not written). */
MOEASR_API moeasr_status moeasr_classifier_get_info(const moeasr_classifier* classifier,
                                                    moeasr_classifier_info* info);

/* *out_label = the label of class `index` (0 <= index < num_labels), UTF-8.
 * Owned by moeasr; valid until the classifier is freed. */
MOEASR_API moeasr_status moeasr_classifier_get_label(const moeasr_classifier* classifier, int32_t index,
                                                     const char** out_label);

typedef struct moeasr_label_score {
  int32_t index;      /* class index (line of labels.txt, from 0) */
  const char* label;  /* UTF-8 */
  float score;        /* sigmoid (multi-label) or softmax probability */
  float logit;
} moeasr_label_score;

typedef struct moeasr_classification {
  const moeasr_label_score* labels;  /* best first; ties: lower index first */
  size_t num_labels;
} moeasr_classification;

/* Classifies one clip: `n` mono samples in [-1, 1] at `sample_rate` Hz (any
 * rate; resampled to the model's). The model sees the first max_frames 10 ms
 * frames (a shorter clip is padded as the model was trained). Returns the
 * `top_k` best labels (top_k >= 1; larger than the label count gives all).
 * Errors, all MOEASR_ERR_INVALID_ARGUMENT: NULL samples with n > 0, NaN or Inf
 * samples, sample_rate <= 0 or beyond the resampler's range, a clip shorter
 * than one 25 ms frame (including n = 0), top_k < 1. The samples are only read.
 * On success caller frees *out_result with moeasr_classification_free; on
 * failure it is set to NULL. */
MOEASR_API moeasr_status moeasr_classify(const moeasr_classifier* classifier, const float* samples, size_t n,
                                         int32_t sample_rate, int32_t top_k, moeasr_classification** out_result);
/* Same for 16-bit PCM samples. */
MOEASR_API moeasr_status moeasr_classify_int16(const moeasr_classifier* classifier, const int16_t* samples, size_t n,
                                               int32_t sample_rate, int32_t top_k,
                                               moeasr_classification** out_result);

MOEASR_API moeasr_status moeasr_classification_free(moeasr_classification* result);

/* The same result as one JSON object (UTF-8, NUL-terminated):
 *   {"labels": [{"index", "label", "score", "logit"}, ...]}
 * Caller frees *out_json with moeasr_string_free. */
MOEASR_API moeasr_status moeasr_classify_json(const moeasr_classifier* classifier, const float* samples, size_t n,
                                              int32_t sample_rate, int32_t top_k, char** out_json);

#ifdef __cplusplus
}
#endif

#endif /* MOEASR_MOEASR_H_ */
