/*
 * wire.h - the frames a job's process sends to the host on its result pipe.
 *
 * A frame is a 16-byte header followed by `len` payload bytes:
 *
 *   u32 magic "JXF1" | u16 type | u16 reserved (0) | u64 len
 *
 * all little-endian.  The host never trusts a frame: it checks the magic,
 * the type, the reserved field and the length against its limits, and it
 * grows a payload buffer only as bytes actually arrive, so a header that
 * claims a huge length costs nothing until the bytes are there.
 */
#ifndef JX_WIRE_H
#define JX_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define JX_WIRE_MAGIC 0x3146584au /* "JXF1" read as little-endian u32 */
#define JX_WIRE_HDR 16

enum jx_frame_type {
    JX_FRAME_RESULT = 1,   /* payload: the result bytes (replaces any) */
    JX_FRAME_PROGRESS = 2, /* payload: u64 done, u64 total */
    JX_FRAME_FAIL = 3,     /* payload: the failure message (no NUL) */
    JX_FRAME_DONE = 4,     /* payload: i32 return code; the last frame */
    JX_FRAME_TASK = 5,     /* host to reused worker: see proc_unix.c */
    JX_FRAME_BROKEN = 6,   /* reused worker: the job wrote raw bytes to
                              fd 3; payload: a message (no NUL) */
    JX_FRAME_RETIRE = 7    /* reused worker: send no more tasks; it exits
                              after this job's DONE */
};

/* Fills a header for a frame. */
void jx_wire_header(unsigned char hdr[JX_WIRE_HDR], unsigned type,
                    uint64_t len);

/* Writes all of iov to a blocking fd.  Returns 0 or -errno. */
struct iovec;
int jx_wire_writev_all(int fd, struct iovec *iov, int cnt);

/* Writes a whole frame to a blocking fd.  Returns 0 or -errno. */
int jx_wire_send(int fd, unsigned type, const void *payload, size_t len);

/* The incremental reader of the host side. */
typedef struct jx_wire_reader {
    unsigned char hdr[JX_WIRE_HDR];
    size_t hdr_have;
    unsigned type;
    uint64_t len;
    unsigned char *buf; /* payload being received */
    size_t cap, have;
    uint64_t max_len;   /* larger frames are a protocol error */
    const char *error;  /* set once the stream is broken */
} jx_wire_reader;

enum { JX_WIRE_MORE = 0, JX_WIRE_FRAME = 1, JX_WIRE_ERROR = -1 };

void jx_wire_reader_init(jx_wire_reader *r, uint64_t max_len);
void jx_wire_reader_free(jx_wire_reader *r);

/*
 * Where the next bytes should be read to, and how many at most: *n is
 * never 0 unless the reader has failed (then JX_WIRE_ERROR is returned).
 * Returns JX_WIRE_MORE or JX_WIRE_ERROR (out of memory).
 */
int jx_wire_reader_space(jx_wire_reader *r, void **p, size_t *n);

/*
 * `n` bytes were read into the space.  Returns JX_WIRE_FRAME when a frame
 * is complete (then r->type, r->buf and r->have describe it until the next
 * call), JX_WIRE_MORE, or JX_WIRE_ERROR (r->error says why).
 */
int jx_wire_reader_commit(jx_wire_reader *r, size_t n);

/* Takes the payload buffer of the completed frame (the caller frees it
 * with jx_free); the reader starts afresh. */
void *jx_wire_reader_take(jx_wire_reader *r, size_t *len);

/* True when the reader stands between frames (a clean end of stream). */
int jx_wire_reader_idle(const jx_wire_reader *r);

uint64_t jx_wire_get_u64(const unsigned char *p);
void jx_wire_put_u64(unsigned char *p, uint64_t v);

#endif
