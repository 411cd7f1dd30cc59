/*
 * moeasr — streaming speech recognition with U2++ Mixture-of-Experts models.
 *
 * This is the only header an application needs. It is C99-clean.
 * Every function returns a moeasr_status; on failure moeasr_last_error()
 * returns a message for the calling thread. No function aborts or exits.
 */
#ifndef MOEASR_MOEASR_H_
#define MOEASR_MOEASR_H_

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

/* Status codes. Values are stable: new codes are only appended. */
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

/* A static, human-readable name for a status ("MOEASR_ERR_IO", ...). Never NULL. */
MOEASR_API const char* moeasr_status_string(moeasr_status status);

/* The message of the last failed call on this thread ("" if none).
 * Owned by moeasr; valid until the next moeasr call on this thread. */
MOEASR_API const char* moeasr_last_error(void);

/* The library version, e.g. "0.1.0". Static string. */
MOEASR_API const char* moeasr_version(void);

#ifdef __cplusplus
}
#endif

#endif /* MOEASR_MOEASR_H_ */
