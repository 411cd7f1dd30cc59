/*
 * stream_wav: recognize a WAV file the way a live application would, feeding
 * it to moeasr in 100 ms pieces and printing partial results as they change.
 *
 *   stream_wav MODEL_DIR FILE.wav      (16-bit PCM, mono, any sample rate)
 *
 * The final transcript goes to stdout, partial results to stderr.
 * Build:  cc -std=c99 stream_wav.c $(pkg-config --cflags --libs moeasr) -o stream_wav
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <moeasr/moeasr.h>

/* Reads a mono 16-bit PCM WAV file; returns malloc'd samples or NULL. */
static int16_t* read_wav16(const char* path, size_t* n, int32_t* rate) {
  FILE* f = fopen(path, "rb");
  unsigned char h[12], chunk[8], fmt[16];
  int16_t* samples = NULL;
  int have_fmt = 0;
  if (!f) return NULL;
  if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) != 0 || memcmp(h + 8, "WAVE", 4) != 0) goto done;
  while (fread(chunk, 1, 8, f) == 8) {
    uint32_t size = chunk[4] | (chunk[5] << 8) | (chunk[6] << 16) | ((uint32_t)chunk[7] << 24);
    if (memcmp(chunk, "fmt ", 4) == 0 && size >= 16) {
      if (fread(fmt, 1, 16, f) != 16) goto done;
      /* PCM (1), mono, 16 bits */
      if ((fmt[0] | (fmt[1] << 8)) != 1 || (fmt[2] | (fmt[3] << 8)) != 1 || (fmt[14] | (fmt[15] << 8)) != 16) goto done;
      *rate = (int32_t)(fmt[4] | (fmt[5] << 8) | (fmt[6] << 16) | ((uint32_t)fmt[7] << 24));
      have_fmt = 1;
      if (fseek(f, (long)(size - 16 + (size & 1)), SEEK_CUR) != 0) goto done;
    } else if (memcmp(chunk, "data", 4) == 0 && have_fmt) {
      size_t i;
      unsigned char* raw = (unsigned char*)malloc(size ? size : 1);
      if (!raw) goto done;
      *n = fread(raw, 1, size, f) / 2;
      samples = (int16_t*)malloc((*n ? *n : 1) * sizeof(int16_t));
      for (i = 0; samples && i < *n; ++i) samples[i] = (int16_t)(raw[2 * i] | (raw[2 * i + 1] << 8));
      free(raw);
      goto done;
    } else if (fseek(f, (long)(size + (size & 1)), SEEK_CUR) != 0) {
      goto done;
    }
  }
done:
  fclose(f);
  return samples;
}

/* Prints the message of a failed call and returns 1. */
static int fail(const char* what, moeasr_status status) {
  fprintf(stderr, "%s failed: %s: %s\n", what, moeasr_status_string(status), moeasr_last_error());
  return 1;
}

int main(int argc, char** argv) {
  moeasr_model* model = NULL;
  moeasr_stream* stream = NULL;
  moeasr_result* result = NULL;
  moeasr_status st;
  int16_t* samples;
  size_t n = 0, pos, piece;
  int32_t rate = 0;
  char last_partial[4096] = "";
  int code = 1;

  if (argc != 3) {
    fprintf(stderr, "usage: %s MODEL_DIR FILE.wav\n", argv[0]);
    return 2;
  }
  samples = read_wav16(argv[2], &n, &rate);
  if (!samples) {
    fprintf(stderr, "cannot read %s (16-bit PCM mono WAV expected)\n", argv[2]);
    return 1;
  }

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

  piece = (size_t)rate / 10; /* 100 ms */
  for (pos = 0; pos < n; pos += piece) {
    size_t len = n - pos < piece ? n - pos : piece;
    if ((st = moeasr_stream_accept_waveform_int16(stream, samples + pos, len, rate)) != MOEASR_OK ||
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
  code = 0;

out:
  moeasr_result_free(result); /* each *_free accepts NULL */
  moeasr_stream_free(stream);
  moeasr_model_free(model);
  free(samples);
  return code;
}
