/* fuzz_wire.c - libFuzzer target for the host's reader of result frames
 * (wire.c): whatever bytes a job process writes on its result pipe, in
 * whatever pieces the pipe delivers them, the reader never crashes, never
 * hands out a frame that breaks its own rules, and never holds more memory
 * than the bytes it was actually given justify (a header that claims a
 * huge length costs nothing until the bytes come).
 *
 * Input: byte 0 picks the reader's result limit, byte 1 seeds the sizes
 * of the pieces, the rest is the stream. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* The first payload allocation of the reader (wire.c). */
#define FIRST_CHUNK (64u * 1024u)

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* A piece size as a pipe might deliver: tiny, odd, a page, or the rest. */
static size_t piece(uint32_t *s, size_t left)
{
    size_t n;
    switch (next_rand(s) % 6) {
    case 0: n = 1; break;
    case 1: n = 1 + next_rand(s) % 7; break;
    case 2: n = 1 + next_rand(s) % 64; break;
    case 3: n = 4096; break;
    case 4: n = 1 + next_rand(s) % 70000; break;
    default: n = left; break;
    }
    return n < left ? n : left;
}

static void check_frame(const jx_wire_reader *r)
{
    CHECK(r->hdr_have == JX_WIRE_HDR);
    CHECK(r->have == r->len);
    CHECK(r->len == 0 || r->buf != NULL);
    switch (r->type) {
    case JX_FRAME_RESULT:
        CHECK(r->len <= r->max_len);
        break;
    case JX_FRAME_PROGRESS:
        CHECK(r->len == 16);
        break;
    case JX_FRAME_FAIL:
    case JX_FRAME_BROKEN:
        CHECK(r->len <= 64u * 1024u);
        break;
    case JX_FRAME_RETIRE:
        CHECK(r->len == 0);
        break;
    case JX_FRAME_DONE:
        CHECK(r->len == 4);
        break;
    default:
        CHECK(!"a frame of an unknown type was accepted");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const uint64_t limits[4] = {0, 16, 100000, (uint64_t)4 << 30};
    jx_wire_reader r;
    jx_wire_reader_init(&r, limits[data[0] & 3]);
    uint32_t seed = 0x9e3779b9u ^ data[1] ^ ((uint32_t)data[0] << 8);
    const uint8_t *p = data + 2;
    size_t left = size - 2;
    uint64_t given = 0;
    unsigned frames = 0;
    int st = JX_WIRE_MORE;
    while (left > 0 && st != JX_WIRE_ERROR) {
        size_t chunk = piece(&seed, left);
        while (chunk > 0) {
            void *dst;
            size_t room;
            st = jx_wire_reader_space(&r, &dst, &room);
            if (st == JX_WIRE_ERROR) {
                CHECK(r.error != NULL);
                CHECK(dst == NULL && room == 0);
                break;
            }
            CHECK(st == JX_WIRE_MORE);
            CHECK(dst != NULL && room > 0);
            /* Memory follows the bytes received: at most twice what this
             * frame has brought so far, or the first chunk. */
            CHECK(r.cap <= FIRST_CHUNK || r.cap <= 2 * r.have);
            CHECK(r.cap <= r.len || r.hdr_have < JX_WIRE_HDR);
            size_t m = room < chunk ? room : chunk;
            /* Now and then a read of fewer bytes than there is room for. */
            if (m > 1 && (next_rand(&seed) & 7) == 0)
                m = 1 + next_rand(&seed) % m;
            memcpy(dst, p, m);
            p += m;
            left -= m;
            chunk -= m;
            given += m;
            st = jx_wire_reader_commit(&r, m);
            if (st == JX_WIRE_ERROR) {
                CHECK(r.error != NULL);
                CHECK(!jx_wire_reader_idle(&r));
                break;
            }
            if (st == JX_WIRE_FRAME) {
                frames++;
                check_frame(&r);
                CHECK(jx_wire_reader_idle(&r));
                if (frames & 1) {
                    size_t len = 0;
                    void *b = jx_wire_reader_take(&r, &len);
                    CHECK(len == r.len);
                    CHECK(len == 0 || b != NULL);
                    if (len)
                        CHECK(memcmp(b, p - len, len) == 0);
                    jx_free(b);
                }
            } else {
                CHECK(st == JX_WIRE_MORE);
            }
        }
    }
    /* An error is sticky and nothing is read after it. */
    if (st == JX_WIRE_ERROR) {
        void *dst = (void *)1;
        size_t room = 1;
        CHECK(jx_wire_reader_space(&r, &dst, &room) == JX_WIRE_ERROR);
        CHECK(dst == NULL && room == 0);
        CHECK(jx_wire_reader_commit(&r, 0) == JX_WIRE_ERROR);
    }
    CHECK(given <= size - 2);
    jx_wire_reader_free(&r);
    return 0;
}
