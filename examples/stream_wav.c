/*
 * stream_wav: recognize a WAV file the way a live application would, feeding
 * it to moeasr in 100 ms pieces and printing partial results as they change.
 *
 *   stream_wav MODEL_DIR FILE.wav      (PCM or float WAV, any sample rate; the
 *                                      channels of a multi-channel file are mixed)
 *
 * The final transcript goes to stdout; partial results and the words with
 * their times to stderr.
 * Build:  cc -std=c99 stream_wav.c $(pkg-config --cflags --libs moeasr) -o stream_wav
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <moeasr/moeasr.h>

/* Prints the message of a failed call and returns 1. */
static int fail(const char* what, moeasr_status status) {
  fprintf(stderr, "%s failed: %s: %s\n", what, moeasr_status_string(status), moeasr_last_error());
  return 1;
}

int main(int argc, char** argv) {
  moeasr_model* model = NULL;
  moeasr_stream* stream = NULL;
  moeasr_result* result = NULL;
  moeasr_wave* wave = NULL;
  moeasr_status st;
  size_t pos, piece, i;
  char last_partial[4096] = "";
  int code = 1;

  if (argc != 3) {
    fprintf(stderr, "usage: %s MODEL_DIR FILE.wav\n", argv[0]);
    return 2;
  }
  if ((st = moeasr_wave_read(argv[2], MOEASR_WAV_MIX, &wave)) != MOEASR_OK) return fail("moeasr_wave_read", st);

  /* The model: load once, share between any number of streams and threads. */
  if ((st = moeasr_model_load(argv[1], NULL, &model)) != MOEASR_OK) {
    code = fail("moeasr_model_load", st);
    goto out;
  }
  /* A stream with default options: 640 ms chunks, rescoring at the end. */
  if ((st = moeasr_stream_create(model, NULL, &stream)) != MOEASR_OK) {
    code = fail("moeasr_stream_create", st);
    goto out;
  }

  piece = (size_t)wave->sample_rate / 10; /* 100 ms */
  if (piece == 0) piece = 1;
  for (pos = 0; pos < wave->num_samples; pos += piece) {
    size_t len = wave->num_samples - pos < piece ? wave->num_samples - pos : piece;
    if ((st = moeasr_stream_accept_waveform(stream, wave->samples + pos, len, wave->sample_rate)) != MOEASR_OK ||
        (st = moeasr_stream_decode(stream)) != MOEASR_OK) {
      code = fail("decoding", st);
      goto out;
    }
    /* Partial results: the CTC best path so far. */
    if (moeasr_stream_get_partial_result(stream, &result) == MOEASR_OK) {
      if (strcmp(result->text, last_partial) != 0) {
        fprintf(stderr, "partial: %s\n", result->text);
        strncpy(last_partial, result->text, sizeof(last_partial) - 1);
      }
      moeasr_result_free(result);
      result = NULL;
    }
  }
  /* End of audio: the last chunk and attention rescoring. */
  if ((st = moeasr_stream_input_finished(stream)) != MOEASR_OK || (st = moeasr_stream_decode(stream)) != MOEASR_OK ||
      (st = moeasr_stream_get_final_result(stream, &result)) != MOEASR_OK) {
    code = fail("finishing", st);
    goto out;
  }
  printf("%s\n", result->text);
  for (i = 0; i < result->num_words; ++i) {
    fprintf(stderr, "word: %s %d-%d ms\n", result->words[i].text, result->words[i].start_ms, result->words[i].end_ms);
  }
  code = 0;

out:
  moeasr_result_free(result); /* each *_free accepts NULL */
  moeasr_stream_free(stream);
  moeasr_model_free(model);
  moeasr_wave_free(wave);
  return code;
}
