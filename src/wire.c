/* wire.c - framing of the messages a job's process sends to the host. */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "wire.h"

#define JX_WIRE_MSG_MAX (64u * 1024u) /* failure messages */
#define JX_WIRE_CHUNK (64u * 1024u)   /* first payload allocation */

uint64_t jx_wire_get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void jx_wire_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

void jx_wire_header(unsigned char hdr[JX_WIRE_HDR], unsigned type,
                    uint64_t len)
{
    put_u32(hdr, JX_WIRE_MAGIC);
    hdr[4] = (unsigned char)type;
    hdr[5] = (unsigned char)(type >> 8);
    hdr[6] = hdr[7] = 0;
    jx_wire_put_u64(hdr + 8, len);
}

int jx_wire_send(int fd, unsigned type, const void *payload, size_t len)
{
    unsigned char hdr[JX_WIRE_HDR];
    jx_wire_header(hdr, type, len);
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)payload, len}};
    return jx_wire_writev_all(fd, iov, len ? 2 : 1);
}

int jx_wire_writev_all(int fd, struct iovec *v, int cnt)
{
    while (cnt > 0 && v->iov_len == 0) {
        v++;
        cnt--;
    }
    while (cnt > 0) {
        ssize_t w = writev(fd, v, cnt);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        size_t left = (size_t)w;
        while (cnt > 0 && left >= v->iov_len) {
            left -= v->iov_len;
            v++;
            cnt--;
        }
        if (cnt > 0) {
            v->iov_base = (char *)v->iov_base + left;
            v->iov_len -= left;
        }
        while (cnt > 0 && v->iov_len == 0) {
            v++;
            cnt--;
        }
    }
    return 0;
}

void jx_wire_reader_init(jx_wire_reader *r, uint64_t max_len)
{
    memset(r, 0, sizeof(*r));
    r->max_len = max_len;
}

void jx_wire_reader_free(jx_wire_reader *r)
{
    jx_free(r->buf);
    r->buf = NULL;
    r->cap = r->have = 0;
}

static void reset(jx_wire_reader *r)
{
    jx_wire_reader_free(r);
    r->hdr_have = 0;
    r->type = 0;
    r->len = 0;
}

/* A frame is complete once its header is in and its payload is too. */
static int complete(const jx_wire_reader *r)
{
    return r->hdr_have == JX_WIRE_HDR && r->have == r->len;
}

int jx_wire_reader_idle(const jx_wire_reader *r)
{
    return !r->error && (r->hdr_have == 0 || complete(r));
}

static int fail(jx_wire_reader *r, const char *why)
{
    r->error = why;
    return JX_WIRE_ERROR;
}

int jx_wire_reader_space(jx_wire_reader *r, void **p, size_t *n)
{
    *p = NULL;
    *n = 0;
    if (r->error)
        return JX_WIRE_ERROR;
    if (complete(r))
        reset(r);
    if (r->hdr_have < JX_WIRE_HDR) {
        *p = r->hdr + r->hdr_have;
        *n = JX_WIRE_HDR - r->hdr_have;
        return JX_WIRE_MORE;
    }
    if (r->have == r->cap) {
        /* Grow with the bytes that really came, never to a size the
         * header merely claims. */
        uint64_t cap = r->cap ? (uint64_t)r->cap * 2 : JX_WIRE_CHUNK;
        if (cap > r->len)
            cap = r->len;
        if (cap > SIZE_MAX)
            return fail(r, "frame too large for this host");
        unsigned char *b = jx_realloc(r->buf, (size_t)cap);
        if (!b)
            return fail(r, "out of memory while receiving a frame");
        r->buf = b;
        r->cap = (size_t)cap;
    }
    uint64_t need = r->len - r->have;
    size_t room = r->cap - r->have;
    *p = r->buf + r->have;
    *n = need < room ? (size_t)need : room;
    return JX_WIRE_MORE;
}

static int check_header(jx_wire_reader *r)
{
    if (get_u32(r->hdr) != JX_WIRE_MAGIC)
        return fail(r, "bad frame magic");
    if (r->hdr[6] || r->hdr[7])
        return fail(r, "bad frame header");
    r->type = (unsigned)r->hdr[4] | (unsigned)r->hdr[5] << 8;
    r->len = jx_wire_get_u64(r->hdr + 8);
    switch (r->type) {
    case JX_FRAME_RESULT:
        if (r->len > r->max_len)
            return fail(r, "result larger than the host accepts");
        break;
    case JX_FRAME_PROGRESS:
        if (r->len != 16)
            return fail(r, "bad progress frame");
        break;
    case JX_FRAME_FAIL:
    case JX_FRAME_BROKEN:
        if (r->len > JX_WIRE_MSG_MAX)
            return fail(r, "failure message too long");
        break;
    case JX_FRAME_RETIRE:
        if (r->len != 0)
            return fail(r, "bad retire frame");
        break;
    case JX_FRAME_DONE:
        if (r->len != 4)
            return fail(r, "bad done frame");
        break;
    default:
        return fail(r, "unknown frame type");
    }
    return JX_WIRE_MORE;
}

int jx_wire_reader_commit(jx_wire_reader *r, size_t n)
{
    if (r->error)
        return JX_WIRE_ERROR;
    if (r->hdr_have < JX_WIRE_HDR) {
        if (n > JX_WIRE_HDR - r->hdr_have)
            return fail(r, "reader misuse");
        r->hdr_have += n;
        if (r->hdr_have < JX_WIRE_HDR)
            return JX_WIRE_MORE;
        if (check_header(r) != JX_WIRE_MORE)
            return JX_WIRE_ERROR;
        return r->len == 0 ? JX_WIRE_FRAME : JX_WIRE_MORE;
    }
    if (n > r->cap - r->have || n > r->len - r->have)
        return fail(r, "reader misuse");
    r->have += n;
    return r->have == r->len ? JX_WIRE_FRAME : JX_WIRE_MORE;
}

void *jx_wire_reader_take(jx_wire_reader *r, size_t *len)
{
    void *b = r->buf;
    *len = r->have;
    r->buf = NULL;
    r->cap = 0;
    /* Stay "complete" so the next space() call starts a new frame. */
    return b;
}
