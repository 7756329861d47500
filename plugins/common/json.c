/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * msgpack → JSON.
 *
 * Why a hand-written cursor instead of msgpack-c: msgpack-c's only reader, msgpack_unpack*(),
 * builds a msgpack_object tree in a zone (one allocation-backed node per value) before we can
 * look at anything, and its zone cannot be rewound per record without msgpack_zone_clear()
 * bookkeeping. For the output hot path (≥ 2M records/s on one core for ~700-byte exec records,
 * see tests/plugins/bench-json.c) we render straight from the bytes: one pass, no allocation
 * besides growing the output buffer, every read bounds-checked by mp_read() in record_view.h.
 * msgpack-c is still what builds records (daemon) and what the tests use to produce input.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "json.h"
#include "util/fmt.h"
#include "record_view.h"

#define JSON_MAX_DEPTH 64
#define ONES	       0x0101010101010101ULL

int vbuf_grow(struct vbuf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (n > SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	want = b->len + n;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int vbuf_printf(struct vbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	r = vbuf_reserve(b, (size_t)n + 1);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void vbuf_done(struct vbuf *b)
{
	free(b->data);
	*b = (struct vbuf){};
}

/*
 * Byte classes for strings: 0 = copy as is, 1 = ASCII that needs an escape (control characters,
 * '"', '\\', DEL), 2 = first byte of a multi-byte sequence or a stray byte >= 0x80.
 */
static const uint8_t json_class[256] = {
	[0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x7f] = 1, [0x80 ... 0xff] = 2,
};

static const char hexdigits[] = "0123456789abcdef";

/* Length of the well-formed UTF-8 sequence at @s (Unicode table 3-7), or 0 when ill-formed:
 * overlongs, surrogates, code points above U+10FFFF and truncated sequences. */
static inline size_t utf8_len(const uint8_t *s, const uint8_t *e)
{
	size_t avail = (size_t)(e - s);
	uint8_t b = s[0];

	if (b >= 0xc2 && b <= 0xdf)
		return avail >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (b >= 0xe0 && b <= 0xef) {
		uint8_t lo = 0x80, hi = 0xbf;
		if (b == 0xe0)
			lo = 0xa0;
		else if (b == 0xed)
			hi = 0x9f;
		if (avail < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (b >= 0xf0 && b <= 0xf4) {
		uint8_t lo = 0x80, hi = 0xbf;
		if (b == 0xf0)
			lo = 0x90;
		else if (b == 0xf4)
			hi = 0x8f;
		if (avail < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

static inline char *put_u00(char *w, unsigned c)
{
	w[0] = '\\';
	w[1] = 'u';
	w[2] = '0';
	w[3] = '0';
	w[4] = hexdigits[(c >> 4) & 0xf];
	w[5] = hexdigits[c & 0xf];
	return w + 6;
}
/*
 * Room a string needs at the write pointer: every byte escaped (6), the quotes, and 16 bytes of
 * slack because the vector path stores whole 16-byte blocks and advances by the valid part.
 */
#define STRING_ROOM(n) (6 * (n) + 2 + 16)

#ifdef __SSE2__
/* Bit i set when byte i needs attention: < 0x20 or >= 0x80 (one signed compare), '"', '\\', DEL. */
static inline unsigned special_mask(__m128i v)
{
	__m128i m = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
				 _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));

	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
	return (unsigned)_mm_movemask_epi8(m);
}
#endif

/*
 * Write @n bytes at @s as a quoted JSON string at @w, which has STRING_ROOM(n) bytes. Bytes from
 * @s up to @readable may be loaded (never stored or interpreted past @s + n): a string inside a
 * msgpack buffer is usually followed by more of the buffer, which lets short strings be checked
 * and copied as one 16-byte block.
 */
static __attribute__((noinline)) char *put_string_slow(char *w, const uint8_t *s, size_t n,
						       const uint8_t *readable)
{
	const uint8_t *e = s + n;

	*w++ = '"';
	while (s < e) {
		uint8_t c;
		size_t k;

#ifdef __SSE2__
		/* Whole blocks first: long paths and arguments rarely need an escape, so this loop
		 * is a load, a check and a store per 16 bytes. */
		while (e - s >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)s);
			unsigned m = special_mask(v);

			_mm_storeu_si128((__m128i *)w, v);
			if (m) {
				k = (size_t)__builtin_ctz(m);
				w += k;
				s += k;
				goto special;
			}
			w += 16;
			s += 16;
		}
		if (s >= e)
			break;
		if ((size_t)(readable - s) >= 16) {
			size_t left = (size_t)(e - s);
			__m128i v = _mm_loadu_si128((const __m128i *)s);
			/* the end of the string stops the run too */
			unsigned m = special_mask(v) | 1u << left;

			_mm_storeu_si128((__m128i *)w, v);
			k = (size_t)__builtin_ctz(m);
			w += k;
			s += k;
			if (s >= e)
				break;
		} else
#endif
		{
			const uint8_t *run = s;

			/* Eight bytes at a time while none needs attention (SWAR: a byte < 0x20,
			 * '"', '\\', 0x7f or >= 0x80 sets its high bit in t). */
			while (e - s >= 8) {
				uint64_t x, t;

				memcpy(&x, s, 8);
				t = ((x - ONES * 0x20) & ~x) |
				    (((x ^ ONES * '"') - ONES) & ~(x ^ ONES * '"')) |
				    (((x ^ ONES * '\\') - ONES) & ~(x ^ ONES * '\\')) |
				    (((x ^ ONES * 0x7f) - ONES) & ~(x ^ ONES * 0x7f)) | x;
				if (t & (ONES * 0x80))
					break;
				s += 8;
			}
			while (s < e && !json_class[*s])
				s++;
			memcpy(w, run, (size_t)(s - run));
			w += s - run;
			if (s >= e)
				break;
		}
#ifdef __SSE2__
	special:
#endif
		c = *s;
		if (c < 0x80) {
			*w++ = '\\';
			switch (c) {
			case '"':
				*w++ = '"';
				break;
			case '\\':
				*w++ = '\\';
				break;
			case '\n':
				*w++ = 'n';
				break;
			case '\t':
				*w++ = 't';
				break;
			case '\r':
				*w++ = 'r';
				break;
			case '\b':
				*w++ = 'b';
				break;
			case '\f':
				*w++ = 'f';
				break;
			default:
				w = put_u00(w - 1, c);
			}
			s++;
			continue;
		}
		k = utf8_len(s, e);
		if (k == 0) {
			/* One U+FFFD per offending byte: deterministic, and resynchronises on the
			 * next byte. */
			memcpy(w, "\\ufffd", 6);
			w += 6;
			s++;
		} else if (c == 0xc2 && s[1] < 0xa0) {
			/* C1 control characters (U+0080..U+009F) act on terminals: escape them. */
			w = put_u00(w, s[1]);
			s += 2;
		} else {
			memcpy(w, s, k);
			w += k;
			s += k;
		}
	}
	*w++ = '"';
	return w;
}

/* put_string_slow() with the common case inlined: a short string with nothing to escape (keys,
 * numbers-as-text, names) is one 16-byte check and one 16-byte store. */
static inline __attribute__((always_inline)) char *put_string(char *w, const uint8_t *s, size_t n,
							      const uint8_t *readable)
{
#ifdef __SSE2__
	if (n <= 16 && (size_t)(readable - s) >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)s);

		if (!(special_mask(v) & ((1u << n) - 1))) {
			w[0] = '"';
			_mm_storeu_si128((__m128i *)(w + 1), v);
			w[n + 1] = '"';
			return w + n + 2;
		}
	}
#endif
	return put_string_slow(w, s, n, readable);
}

int json_append_string(struct vbuf *out, const void *s, size_t n)
{
	int r;

	if (n > (SIZE_MAX - 18) / 6)
		return -ENOMEM;
	r = vbuf_reserve(out, STRING_ROOM(n));
	if (r < 0)
		return r;
	out->len = (size_t)(put_string(out->data + out->len, s, n, (const uint8_t *)s + n) -
			    out->data);
	return 0;
}

static inline char *put_2d(char *w, unsigned v)
{
	w[0] = (char)('0' + v / 10);
	w[1] = (char)('0' + v % 10);
	return w + 2;
}

/* "YYYY-MM-DDTHH:MM:SS" for @sec into @w (at most 40 bytes); returns the end. */
static char *put_civil(char *w, int64_t sec)
{
	int64_t days, sod, z, era, doe, yoe, y, doy, mp, d, m;

	days = sec / 86400;
	sod = sec % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	/* Proleptic Gregorian civil date from days since 1970-01-01 (400-year eras). */
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;

	if (y >= 0 && y <= 9999) {
		w = put_2d(w, (unsigned)(y / 100));
		w = put_2d(w, (unsigned)(y % 100));
	} else
		w += snprintf(w, 24, "%+05" PRId64, y);
	*w++ = '-';
	w = put_2d(w, (unsigned)m);
	*w++ = '-';
	w = put_2d(w, (unsigned)d);
	*w++ = 'T';
	w = put_2d(w, (unsigned)(sod / 3600));
	*w++ = ':';
	w = put_2d(w, (unsigned)(sod / 60 % 60));
	*w++ = ':';
	w = put_2d(w, (unsigned)(sod % 60));
	return w;
}

/*
 * The date and time of day change once a second while records arrive by the million, and a
 * record carries two times (event and process start) that rarely share a second: keep the last
 * two prefixes. Thread-local, so plugin instances on different worker threads never share it.
 */
struct civil_cache {
	int64_t sec[2];
	uint8_t len[2];
	uint8_t next;
	bool valid[2];
	char text[2][40];
};
static __thread struct civil_cache civil_cache;

/* RFC 3339 with nine fractional digits and 'Z' at @w (at most 64 bytes); returns the end. */
static char *put_rfc3339(char *w, int64_t sec, uint32_t nsec)
{
	struct civil_cache *cc = &civil_cache;
	unsigned i;

	if (cc->valid[0] && cc->sec[0] == sec)
		i = 0;
	else if (cc->valid[1] && cc->sec[1] == sec)
		i = 1;
	else {
		i = cc->next;
		cc->next ^= 1;
		cc->len[i] = (uint8_t)(put_civil(cc->text[i], sec) - cc->text[i]);
		cc->sec[i] = sec;
		cc->valid[i] = true;
	}
	memcpy(w, cc->text[i], cc->len[i]);
	w += cc->len[i];
	*w++ = '.';
	for (int k = 7; k >= 1; k -= 2) {
		memcpy(w + k, fmt_digit_pairs + 2 * (nsec % 100), 2);
		nsec /= 100;
	}
	w[0] = (char)('0' + nsec % 10);
	w += 9;
	*w++ = 'Z';
	return w;
}

int json_append_rfc3339(struct vbuf *out, int64_t sec, uint32_t nsec)
{
	int r;

	r = vbuf_reserve(out, 64);
	if (r < 0)
		return r;
	out->len = (size_t)(put_rfc3339(out->data + out->len, sec, nsec) - out->data);
	return 0;
}

int json_append_base64(struct vbuf *out, const void *src, size_t n)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const uint8_t *s = src;
	size_t i = 0;
	char *w;
	int r;

	if (n > SIZE_MAX / 2)
		return -ENOMEM;
	r = vbuf_reserve(out, (n + 2) / 3 * 4);
	if (r < 0)
		return r;
	w = out->data + out->len;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*w++ = tbl[v >> 18];
		*w++ = tbl[(v >> 12) & 63];
		*w++ = tbl[(v >> 6) & 63];
		*w++ = tbl[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;
		*w++ = tbl[v >> 18];
		*w++ = tbl[(v >> 12) & 63];
		*w++ = '=';
		*w++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		*w++ = tbl[v >> 18];
		*w++ = tbl[(v >> 12) & 63];
		*w++ = tbl[(v >> 6) & 63];
		*w++ = '=';
	}
	out->len = (size_t)(w - out->data);
	return 0;
}

/* Shortest of %.15g/%.17g that reads back to the same double; NaN and infinities are null. */
static int put_double(struct vbuf *out, double d, bool single)
{
	char tmp[40];

	if (!isfinite(d))
		return vbuf_append(out, "null", 4);
	if (single) {
		snprintf(tmp, sizeof(tmp), "%.6g", d);
		if (strtof(tmp, NULL) != (float)d)
			snprintf(tmp, sizeof(tmp), "%.9g", d);
	} else {
		snprintf(tmp, sizeof(tmp), "%.15g", d);
		if (strtod(tmp, NULL) != d)
			snprintf(tmp, sizeof(tmp), "%.17g", d);
	}
	return vbuf_append_str(out, tmp);
}

/*
 * The renderer writes through a cursor into out's spare capacity and grows it only when a value
 * needs more room than is left, instead of reserving (and re-deriving the write position) per
 * byte or per value. out->len is brought up to date by jw_sync() before any vbuf_* call.
 */
struct jw {
	struct vbuf *out;
	char *w, *lim;
	unsigned jc_miss; /* inside a map being rendered because the cache missed */
};

static inline void jw_sync(struct jw *j)
{
	j->out->len = (size_t)(j->w - j->out->data);
}

static inline void jw_load(struct jw *j)
{
	j->w = j->out->data + j->out->len;
	j->lim = j->out->data + j->out->cap;
}

static __attribute__((noinline)) int jw_grow(struct jw *j, size_t n)
{
	int r;

	jw_sync(j);
	r = vbuf_grow(j->out, n);
	jw_load(j);
	return r;
}

static inline int jw_need(struct jw *j, size_t n)
{
	if ((size_t)(j->lim - j->w) >= n)
		return 0;
	return jw_grow(j, n);
}

static inline int jw_lit(struct jw *j, const char *s, size_t n)
{
	int r = jw_need(j, n);

	if (r < 0)
		return r;
	memcpy(j->w, s, n);
	j->w += n;
	return 0;
}

static inline int jw_putc(struct jw *j, char ch)
{
	int r = jw_need(j, 1);

	if (r < 0)
		return r;
	*j->w++ = ch;
	return 0;
}

static inline int jw_string(struct jw *j, const uint8_t *s, size_t n, const uint8_t *readable)
{
	int r;

	if (n > (SIZE_MAX - 18) / 6)
		return -ENOMEM;
	r = jw_need(j, STRING_ROOM(n));
	if (r < 0)
		return r;
	j->w = put_string(j->w, s, n, readable);
	return 0;
}

/* Calls a vbuf_* appender on the cursor's buffer. */
#define JW_CALL(j, call)                                                                           \
	({                                                                                         \
		int _r;                                                                            \
		jw_sync(j);                                                                        \
		_r = (call);                                                                       \
		jw_load(j);                                                                        \
		_r;                                                                                \
	})

static int render_value(struct mp_cursor *c, struct jw *j, int depth);
static int render_value_slow(struct mp_cursor *c, struct jw *j, int depth);

/*
 * Rendered sub-objects. The exec and the exit record of a process carry the same "process"
 * object byte for byte (the daemon memoises its encoding), and every child's record repeats its
 * parent's as "parent" (and ancestors'): rendering such a map again costs ~4,000 instructions,
 * looking it up ~150. Maps nested at least JC_MIN_DEPTH levels deep (process objects, not the
 * record or event maps that change per event) and at least JC_PREFIX bytes long are remembered
 * per thread, keyed by a hash of their first JC_PREFIX bytes.
 *
 * A hit is verified by comparing the whole stored msgpack encoding with the input, so a hash
 * collision can only cost time, never produce wrong output: msgpack encodings are prefix-free,
 * so input bytes equal to a complete encoding *are* that value, and its rendering depends on
 * nothing else but the depth it sits at (checked against the depth it was rendered at).
 *
 * Per thread (plugins render on their own worker threads), direct-mapped, bounded to JC_SLOTS
 * entries of at most JC_ENTRY_MAX bytes and JC_BYTES_MAX bytes in all; freed at thread exit.
 */
#define JC_SLOTS     256 /* power of two */
#define JC_PREFIX    128
#define JC_MIN_DEPTH 2
#define JC_ENTRY_MAX (16 * 1024)
#define JC_BYTES_MAX (256 * 1024)

struct jc_slot {
	uint64_t hash;
	uint32_t mp_len, json_len, cap;
	int depth;    /* rendered at this depth: valid at this depth or shallower */
	uint8_t *buf; /* mp_len bytes of msgpack, then json_len bytes of JSON */
};

struct json_cache {
	size_t bytes;
	unsigned victim; /* next slot to free when full */
	struct jc_slot slot[JC_SLOTS];
};

static __thread struct json_cache *jc_tls;
static pthread_key_t jc_key;
static pthread_once_t jc_once = PTHREAD_ONCE_INIT;
static bool jc_key_ok;

static void jc_free(void *p)
{
	struct json_cache *jc = p;

	if (!jc)
		return;
	for (size_t i = 0; i < JC_SLOTS; i++)
		free(jc->slot[i].buf);
	free(jc);
}

static void jc_key_init(void)
{
	jc_key_ok = pthread_key_create(&jc_key, jc_free) == 0;
}

static __attribute__((noinline)) struct json_cache *jc_create(void)
{
	struct json_cache *jc;

	(void)pthread_once(&jc_once, jc_key_init);
	if (!jc_key_ok)
		return NULL;
	jc = calloc(1, sizeof(*jc));
	if (!jc)
		return NULL;
	if (pthread_setspecific(jc_key, jc) != 0) {
		free(jc);
		return NULL;
	}
	jc_tls = jc;
	return jc;
}

void json_render_cache_drop(void)
{
	if (!jc_tls)
		return;
	if (jc_key_ok)
		(void)pthread_setspecific(jc_key, NULL);
	jc_free(jc_tls);
	jc_tls = NULL;
}

/* Four independent multiply-xorshift lanes over JC_PREFIX bytes. */
static inline uint64_t jc_hash(const uint8_t *p)
{
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	uint64_t h[4] = {1, 2, 3, 4};

	for (size_t i = 0; i < JC_PREFIX; i += 32)
		for (size_t l = 0; l < 4; l++) {
			uint64_t w;

			memcpy(&w, p + i + 8 * l, 8);
			h[l] = (h[l] ^ w) * k;
			h[l] ^= h[l] >> 31;
		}
	return (h[0] ^ (h[1] * 3) ^ (h[2] * 5) ^ (h[3] * 7)) * k;
}

static inline struct jc_slot *jc_slot_of(struct json_cache *jc, uint64_t hash)
{
	return &jc->slot[(hash >> 32) & (JC_SLOTS - 1)];
}

/* Render the map at the cursor from the cache: 1 = done, 0 = not cached, or -errno. */
static int jc_lookup(struct json_cache *jc, uint64_t hash, struct mp_cursor *c, struct jw *j,
		     int depth)
{
	struct jc_slot *s = jc_slot_of(jc, hash);
	int r;

	if (s->hash != hash || !s->buf || depth > s->depth || (size_t)(c->end - c->p) < s->mp_len ||
	    memcmp(s->buf, c->p, s->mp_len) != 0)
		return 0;
	r = jw_need(j, s->json_len);
	if (r < 0)
		return r;
	memcpy(j->w, s->buf + s->mp_len, s->json_len);
	j->w += s->json_len;
	c->p += s->mp_len;
	return 1;
}

/* Remember the map at @mp rendered as @json. Failing to is not an error. */
static void jc_insert(struct json_cache *jc, uint64_t hash, const uint8_t *mp, size_t mp_len,
		      const char *json, size_t json_len, int depth)
{
	struct jc_slot *s = jc_slot_of(jc, hash);
	size_t need = mp_len + json_len;

	if (need > JC_ENTRY_MAX)
		return;
	if (s->cap < need) {
		size_t cap = (need + 255) & ~(size_t)255;
		uint8_t *b;

		/* Full: free other slots, round robin, until the new entry fits. */
		while (jc->bytes - s->cap + cap > JC_BYTES_MAX) {
			struct jc_slot *v = &jc->slot[jc->victim++ & (JC_SLOTS - 1)];

			if (v == s)
				continue;
			jc->bytes -= v->cap;
			free(v->buf);
			*v = (struct jc_slot){};
		}
		b = realloc(s->buf, cap);
		if (!b)
			return;
		jc->bytes = jc->bytes - s->cap + cap;
		s->buf = b;
		s->cap = (uint32_t)cap;
	}
	memcpy(s->buf, mp, mp_len);
	memcpy(s->buf + mp_len, json, json_len);
	s->hash = hash;
	s->mp_len = (uint32_t)mp_len;
	s->json_len = (uint32_t)json_len;
	s->depth = depth;
}

static inline bool is_map_header(uint8_t b)
{
	return (b & 0xf0) == 0x80 || b == 0xde || b == 0xdf;
}

/* A map key that is not a string: render it, then use that JSON text as a string (a key that
 * renders as a JSON string already, like bin or a timestamp, is used as is). */
static int render_key(struct mp_cursor *c, struct jw *j, int depth)
{
	size_t start = (size_t)(j->w - j->out->data), n;
	char *copy;
	int r;

	r = render_value(c, j, depth);
	if (r < 0)
		return r;
	if (j->out->data[start] == '"')
		return 0;
	n = (size_t)(j->w - j->out->data) - start;
	copy = malloc(n);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, j->out->data + start, n);
	j->w = j->out->data + start;
	r = jw_string(j, (const uint8_t *)copy, n, (const uint8_t *)copy + n);
	free(copy);
	return r;
}

static inline bool is_str_header(uint8_t b)
{
	return (b & 0xe0) == 0xa0 || (b >= 0xd9 && b <= 0xdb);
}

/*
 * The two most common encodings in records, fixstr and positive fixint, inlined into the
 * container loops so that a scalar costs no call: 1 = rendered, 0 = not one of them, or -errno.
 */
static inline __attribute__((always_inline)) int render_fast(struct mp_cursor *c, struct jw *j)
{
	uint8_t b;
	int r;

	if (c->p >= c->end)
		return 0;
	b = *c->p;
	if ((b & 0xe0) == 0xa0) {
		size_t n = b & 0x1f;

		if ((size_t)(c->end - c->p) - 1 < n)
			return -EBADMSG;
		r = jw_string(j, c->p + 1, n, c->end);
		c->p += 1 + n;
		return r < 0 ? r : 1;
	}
	if (b <= 0x7f) {
		r = jw_need(j, 3);
		if (r < 0)
			return r;
		j->w = fmt_put_u64(j->w, b);
		c->p++;
		return 1;
	}
	/* str 8: paths, ids and arguments longer than 31 bytes */
	if (b == 0xd9 && c->end - c->p >= 2) {
		size_t n = c->p[1];

		if ((size_t)(c->end - c->p) - 2 < n)
			return -EBADMSG;
		r = jw_string(j, c->p + 2, n, c->end);
		c->p += 2 + n;
		return r < 0 ? r : 1;
	}
	/* uint 32: pids */
	if (b == 0xce && c->end - c->p >= 5) {
		r = jw_need(j, 10);
		if (r < 0)
			return r;
		j->w = fmt_put_u64(j->w, mp_be32(c->p + 1));
		c->p += 5;
		return 1;
	}
	return 0;
}

static int render_map(struct mp_cursor *c, struct jw *j, int depth, const struct mp_obj *o);

/* A map that may be in the cache: look it up, else render it and remember it. */
static __attribute__((noinline)) int render_map_cached(struct mp_cursor *c, struct jw *j, int depth)
{
	struct json_cache *jc = jc_tls ?: jc_create();
	const uint8_t *start = c->p;
	size_t out_start;
	struct mp_obj o;
	uint64_t hash;
	int r;

	if (!jc) {
		r = mp_read(c, &o);
		return r < 0 ? r : render_map(c, j, depth, &o);
	}
	hash = jc_hash(c->p);
	r = jc_lookup(jc, hash, c, j, depth);
	if (r != 0)
		return r < 0 ? r : 0;
	out_start = (size_t)(j->w - j->out->data);
	r = mp_read(c, &o);
	if (r >= 0) {
		/* Maps inside a new one are new too, most likely: no lookups for them. */
		j->jc_miss++;
		r = render_map(c, j, depth, &o);
		j->jc_miss--;
	}
	if (r >= 0 && c->p - start >= JC_PREFIX)
		jc_insert(jc, hash, start, (size_t)(c->p - start), j->out->data + out_start,
			  (size_t)(j->w - j->out->data) - out_start, depth);
	return r;
}

static int render_value(struct mp_cursor *c, struct jw *j, int depth)
{
	int r = render_fast(c, j);

	if (r != 0)
		return r < 0 ? r : 0;
	return render_value_slow(c, j, depth);
}

/* render_value() for what render_fast() just declined. */
static int render_value_slow(struct mp_cursor *c, struct jw *j, int depth)
{
	struct mp_obj o = {.type = MP_NIL};
	int r;

	/* Booleans and the timestamps the daemon writes (ext 8, 96-bit form) without mp_read(). */
	if (c->p < c->end) {
		uint8_t b = *c->p;

		if (b == 0xc2 || b == 0xc3) {
			c->p++;
			return b == 0xc3 ? jw_lit(j, "true", 4) : jw_lit(j, "false", 5);
		}
		if (b == 0xc7 && c->end - c->p >= 15 && c->p[1] == 12 && c->p[2] == 0xff) {
			uint32_t nsec = mp_be32(c->p + 3);

			if (nsec > 999999999)
				return -EBADMSG;
			r = jw_need(j, 66);
			if (r < 0)
				return r;
			*j->w++ = '"';
			j->w = put_rfc3339(j->w, (int64_t)mp_be64(c->p + 7), nsec);
			*j->w++ = '"';
			c->p += 15;
			return 0;
		}
	}
	if (depth >= JC_MIN_DEPTH && !j->jc_miss && (size_t)(c->end - c->p) >= JC_PREFIX &&
	    is_map_header(*c->p))
		return render_map_cached(c, j, depth);
	r = mp_read(c, &o);
	if (r < 0)
		return r;

	switch (o.type) {
	case MP_NIL:
		return jw_lit(j, "null", 4);
	case MP_BOOL:
		return o.b ? jw_lit(j, "true", 4) : jw_lit(j, "false", 5);
	case MP_UINT:
		r = jw_need(j, 20);
		if (r < 0)
			return r;
		j->w = fmt_put_u64(j->w, o.u);
		return 0;
	case MP_INT:
		r = jw_need(j, 21);
		if (r < 0)
			return r;
		*j->w++ = '-';
		j->w = fmt_put_u64(j->w, -(uint64_t)o.i);
		return 0;
	case MP_FLOAT32:
		return JW_CALL(j, put_double(j->out, o.f, true));
	case MP_FLOAT64:
		return JW_CALL(j, put_double(j->out, o.d, false));
	case MP_STR:
		return jw_string(j, o.ptr, o.len, c->end);
	case MP_BIN:
		return JW_CALL(j, vbuf_putc(j->out, '"') ?: json_append_base64(j->out, o.ptr, o.len)
							  ?: vbuf_putc(j->out, '"'));
	case MP_EXT:
		if (o.ext_type == -1) {
			int64_t sec;
			uint32_t nsec;

			r = mp_timestamp(&o, &sec, &nsec);
			if (r < 0)
				return r;
			r = jw_need(j, 66);
			if (r < 0)
				return r;
			*j->w++ = '"';
			j->w = put_rfc3339(j->w, sec, nsec);
			*j->w++ = '"';
			return 0;
		}
		/* Other extension types carry no meaning in the schema: keep their bytes. */
		return JW_CALL(j, vbuf_putc(j->out, '"') ?: json_append_base64(j->out, o.ptr, o.len)
							  ?: vbuf_putc(j->out, '"'));
	case MP_ARRAY:
		if (depth >= JSON_MAX_DEPTH)
			return -EBADMSG;
		r = jw_putc(j, '[');
		for (uint32_t i = 0; r >= 0 && i < o.len; i++) {
			if (i > 0)
				r = jw_putc(j, ',');
			if (r >= 0)
				r = render_fast(c, j);
			if (r == 0)
				r = render_value_slow(c, j, depth + 1);
		}
		if (r >= 0)
			r = jw_putc(j, ']');
		return r;
	case MP_MAP:
		return render_map(c, j, depth, &o);
	}
	return -EBADMSG;
}

/* The pairs of a map whose header @o was just read. */
static int render_map(struct mp_cursor *c, struct jw *j, int depth, const struct mp_obj *o)
{
	int r;

	if (depth >= JSON_MAX_DEPTH)
		return -EBADMSG;
	r = jw_putc(j, '{');
	for (uint32_t i = 0; r >= 0 && i < o->len; i++) {
		if (c->p >= c->end)
			return -EBADMSG;
		/* Fast path: fixstr keys, written with their ',' and ':' in one go. */
		if ((*c->p & 0xe0) == 0xa0) {
			size_t n = *c->p & 0x1f;

			if ((size_t)(c->end - c->p) - 1 < n)
				return -EBADMSG;
			r = jw_need(j, STRING_ROOM(n) + 2);
			if (r < 0)
				break;
			*j->w = ',';
			j->w += i > 0;
			j->w = put_string(j->w, c->p + 1, n, c->end);
			*j->w++ = ':';
			c->p += 1 + n;
		} else {
			if (i > 0)
				r = jw_putc(j, ',');
			if (r < 0)
				break;
			if (is_str_header(*c->p))
				r = render_value(c, j, depth + 1);
			else
				r = render_key(c, j, depth + 1);
			if (r >= 0)
				r = jw_putc(j, ':');
		}
		if (r >= 0)
			r = render_fast(c, j);
		if (r == 0)
			r = render_value_slow(c, j, depth + 1);
	}
	if (r >= 0)
		r = jw_putc(j, '}');
	return r;
}

int json_render(const uint8_t *data, size_t size, struct vbuf *out)
{
	struct mp_cursor c = mp_cursor_make(data, size);
	size_t start = out->len;
	struct jw j = {.out = out};
	int r;

	/* Start from a real buffer so the cursor never does arithmetic on NULL. */
	if (!out->data) {
		r = vbuf_grow(out, 256);
		if (r < 0)
			return r;
	}
	jw_load(&j);
	r = render_value(&c, &j, 0);
	if (r < 0)
		out->len = start;
	else
		jw_sync(&j);
	return r;
}
