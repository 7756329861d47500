/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The record encoder memoises each cache entry's msgpack "process" object on the entry
 * (proc_cache_set_memo()) and splices the tid into it per record; json_render() remembers the
 * JSON of large nested maps per thread. Both must be invisible: every record decodes to the
 * entry's current values, whatever was cached before.
 */
#include <msgpack.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "plugins/common/json.h"
#include "record-fixtures.h"

/* A decoded record; the objects point into u. */
struct rec {
	msgpack_unpacked u;
	const msgpack_object *ev, *proc, *parent;
};

static void rec_decode(struct rec *d, const uint8_t *data, size_t size, const char *type)
{
	size_t off = 0;

	msgpack_unpacked_init(&d->u);
	if (msgpack_unpack_next(&d->u, (const char *)data, size, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != size)
		TAP_FAIL("record does not decode as one msgpack value");
	d->ev = get(&d->u.data, type);
	if (!d->ev)
		TAP_FAIL("no %s in the record", type);
	d->proc = get(d->ev, "process");
	d->parent = get(d->ev, "parent");
	if (!d->proc)
		TAP_FAIL("no process object");
}

static int64_t time_of(const msgpack_object *o)
{
	msgpack_timestamp ts;

	if (!o || o->type != MSGPACK_OBJECT_EXT || !msgpack_object_to_timestamp(o, &ts))
		TAP_FAIL("not a timestamp");
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The fields of a process object that come from the cache entry @p. */
static void check_process(const msgpack_object *o, const struct proc_entry *p, uint32_t tid,
			  const char *binary, int64_t boot_offset)
{
	ASSERT_TRUE(str_is(get(o, "exec_id"), p->exec_id));
	ASSERT_EQ(uint_of(get(o, "pid")), p->pid);
	ASSERT_EQ(uint_of(get(o, "tid")), tid);
	ASSERT_TRUE(str_is(get(o, "binary"), binary));
	ASSERT_TRUE(str_is(get(o, "cwd"), "/srv"));
	ASSERT_EQ(time_of(get(o, "start_time")), boot_offset + (int64_t)p->start_boottime);
	ASSERT_EQ(uint_of(get(get(o, "process_credentials"), "uid")), 1000);
}

/* The msgpack bytes of @o, re-packed (msgpack-c picks the same smallest encodings). */
static size_t pack_obj(const msgpack_object *o, char *buf, size_t size)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t n;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (msgpack_pack_object(&pk, *o) != 0 || sb.size > size)
		TAP_FAIL("pack");
	memcpy(buf, sb.data, sb.size);
	n = sb.size;
	msgpack_sbuffer_destroy(&sb);
	return n;
}

TEST(memo_reused_by_exec_exit_and_children)
{
	static const char pargs[] = "bash\0-c\0make -j2";
	static const char cargs[] = "make\0-j2";
	struct proc_cache *c = new_cache();
	struct record_encoder *r = NULL;
	const struct proc_entry *par, *ch;
	const struct proc_memo *pm, *cm;
	const uint8_t *data;
	size_t size, bytes0, n1, n2;
	struct rec d;
	char a[4096], b[4096];

	par = feed_exec(c, 10, 5 * TICK, 0, 0, "/usr/bin/bash", pargs, sizeof(pargs), 0);
	ch = feed_exec(c, 11, 7 * TICK, 10, 5 * TICK, "/usr/bin/make", cargs, sizeof(cargs), 0);
	ASSERT_NOT_NULL(par);
	ASSERT_NOT_NULL(ch);
	ASSERT_NULL(par->memo);
	bytes0 = proc_cache_bytes(c);

	ASSERT_OK(record_encoder_new("web-1", false, &r));
	record_encoder_set_boot_offset(r, BOOT_OFFSET);

	/* The parent's exec record builds its memo; the cache accounts for it. */
	ASSERT_OK(record_encode_exec(r, 1, 10, c, par, &data, &size));
	pm = par->memo;
	ASSERT_NOT_NULL(pm);
	ASSERT_GE(proc_cache_bytes(c), bytes0 + 100);
	rec_decode(&d, data, size, "process_exec");
	check_process(d.proc, par, 10, "/usr/bin/bash", BOOT_OFFSET);
	ASSERT_TRUE(str_is(get(d.proc, "arguments"), "-c \"make -j2\""));
	ASSERT_NULL(d.parent);
	n1 = pack_obj(d.proc, a, sizeof(a));
	msgpack_unpacked_destroy(&d.u);

	/* The child's record carries the parent from the parent's memo (same pointer: reused,
	 * not rebuilt; a rebuild allocates the new memo before freeing the old one). */
	ASSERT_OK(record_encode_exec(r, 2, 11, c, ch, &data, &size));
	ASSERT_TRUE(par->memo == pm);
	cm = ch->memo;
	ASSERT_NOT_NULL(cm);
	rec_decode(&d, data, size, "process_exec");
	check_process(d.proc, ch, 11, "/usr/bin/make", BOOT_OFFSET);
	ASSERT_TRUE(str_is(get(d.proc, "parent_exec_id"), par->exec_id));
	ASSERT_NOT_NULL(d.parent);
	check_process(d.parent, par, 10, "/usr/bin/bash", BOOT_OFFSET);
	n2 = pack_obj(d.parent, b, sizeof(b));
	ASSERT_EQ(n1, n2); /* same tid, so the very same object as in the parent's exec */
	ASSERT_MEMEQ(a, b, n1);
	msgpack_unpacked_destroy(&d.u);

	/* The child's exit reuses both memos; its process object equals the exec record's. */
	ch = feed_exit(c, 11, 7 * TICK, 2 << 8);
	ASSERT_NOT_NULL(ch);
	ASSERT_TRUE(ch->memo == cm);
	ASSERT_OK(record_encode_exit(r, 3, 11, c, ch, ch->exit_code, &data, &size));
	ASSERT_TRUE(ch->memo == cm);
	ASSERT_TRUE(par->memo == pm);
	rec_decode(&d, data, size, "process_exit");
	check_process(d.proc, ch, 11, "/usr/bin/make", BOOT_OFFSET);
	ASSERT_EQ(uint_of(get(d.ev, "status")), 2);
	check_process(d.parent, par, 10, "/usr/bin/bash", BOOT_OFFSET);
	msgpack_unpacked_destroy(&d.u);

	/* tid is spliced per record, in any width: fixint, uint16, uint32. */
	for (uint32_t tid = 5; tid < 4000000000u; tid = tid * 77 + 1) {
		ASSERT_OK(record_encode_exit(r, 4, tid, c, par, 0, &data, &size));
		ASSERT_TRUE(par->memo == pm);
		rec_decode(&d, data, size, "process_exit");
		check_process(d.proc, par, tid, "/usr/bin/bash", BOOT_OFFSET);
		ASSERT_TRUE(str_is(get(d.proc, "arguments"), "-c \"make -j2\""));
		msgpack_unpacked_destroy(&d.u);
	}

	record_encoder_free(r);
	proc_cache_free(c);
}

TEST(dropped_memo_is_rebuilt)
{
	static const char args[] = "sleep\0"
				   "1";
	struct proc_cache *c = new_cache();
	struct record_encoder *r = NULL;
	const struct proc_entry *p;
	const uint8_t *data;
	size_t size, bytes0, bytes1;
	struct rec d;

	p = feed_exec(c, 20, 3 * TICK, 0, 0, "/bin/sleep", args, sizeof(args), 0);
	ASSERT_NOT_NULL(p);
	bytes0 = proc_cache_bytes(c);
	ASSERT_OK(record_encoder_new("web-1", false, &r));
	record_encoder_set_boot_offset(r, BOOT_OFFSET);
	ASSERT_OK(record_encode_exec(r, 1, 20, c, p, &data, &size));
	ASSERT_NOT_NULL(p->memo);
	bytes1 = proc_cache_bytes(c);
	ASSERT_TRUE(bytes1 > bytes0);

	proc_cache_set_memo(c, p, NULL, 0);
	ASSERT_NULL(p->memo);
	ASSERT_EQ(p->memo_bytes, 0);
	ASSERT_EQ(proc_cache_bytes(c), bytes0);

	ASSERT_OK(record_encode_exec(r, 1, 21, c, p, &data, &size));
	ASSERT_NOT_NULL(p->memo);
	ASSERT_EQ(proc_cache_bytes(c), bytes1);
	rec_decode(&d, data, size, "process_exec");
	check_process(d.proc, p, 21, "/bin/sleep", BOOT_OFFSET);
	ASSERT_TRUE(str_is(get(d.proc, "arguments"), "1"));
	msgpack_unpacked_destroy(&d.u);

	/* The same (pid, start) exec'ing again replaces the entry: its memo must not survive. */
	p = feed_exec(c, 20, 3 * TICK, 0, 0, "/bin/true", "true", 5, 0);
	ASSERT_NOT_NULL(p);
	ASSERT_NULL(p->memo);
	ASSERT_OK(record_encode_exec(r, 1, 20, c, p, &data, &size));
	rec_decode(&d, data, size, "process_exec");
	check_process(d.proc, p, 20, "/bin/true", BOOT_OFFSET);
	ASSERT_NULL(get(d.proc, "arguments"));
	msgpack_unpacked_destroy(&d.u);

	/* Without a cache nothing is memoised, and records are still complete. */
	ASSERT_OK(record_encode_exec(r, 1, 22, NULL, p, &data, &size));
	rec_decode(&d, data, size, "process_exec");
	check_process(d.proc, p, 22, "/bin/true", BOOT_OFFSET);
	msgpack_unpacked_destroy(&d.u);

	record_encoder_free(r);
	proc_cache_free(c);
}

TEST(boot_offset_change_rebuilds)
{
	struct proc_cache *c = new_cache();
	struct record_encoder *r = NULL, *r2 = NULL;
	const struct proc_entry *p;
	const struct proc_memo *m;
	const int64_t other = BOOT_OFFSET + 1234567891LL;
	const uint8_t *data;
	size_t size;
	struct rec d;

	p = feed_exec(c, 30, 9 * TICK, 0, 0, "/bin/cat", "cat", 4, 0);
	ASSERT_NOT_NULL(p);
	ASSERT_OK(record_encoder_new("web-1", false, &r));
	ASSERT_OK(record_encoder_new("web-1", false, &r2));
	record_encoder_set_boot_offset(r, BOOT_OFFSET);
	record_encoder_set_boot_offset(r2, other);

	ASSERT_OK(record_encode_exec(r, 1, 30, c, p, &data, &size));
	m = p->memo;
	ASSERT_NOT_NULL(m);

	/* A new offset (clock step, suspend) makes the memo stale: start_time must follow. */
	record_encoder_set_boot_offset(r, other);
	ASSERT_OK(record_encode_exit(r, 2, 30, c, p, 0, &data, &size));
	ASSERT_TRUE(p->memo != m);
	rec_decode(&d, data, size, "process_exit");
	check_process(d.proc, p, 30, "/bin/cat", other);
	msgpack_unpacked_destroy(&d.u);

	/* Two encoders with different offsets over one cache never see each other's memo. */
	record_encoder_set_boot_offset(r, BOOT_OFFSET);
	for (int i = 0; i < 3; i++) {
		ASSERT_OK(record_encode_exit(r, 3, 30, c, p, 0, &data, &size));
		rec_decode(&d, data, size, "process_exit");
		check_process(d.proc, p, 30, "/bin/cat", BOOT_OFFSET);
		msgpack_unpacked_destroy(&d.u);
		ASSERT_OK(record_encode_exit(r2, 3, 30, c, p, 0, &data, &size));
		rec_decode(&d, data, size, "process_exit");
		check_process(d.proc, p, 30, "/bin/cat", other);
		msgpack_unpacked_destroy(&d.u);
	}

	record_encoder_free(r);
	record_encoder_free(r2);
	proc_cache_free(c);
}

/* ---- json_render()'s per-thread cache of rendered sub-objects ---- */

/* @data rendered with an empty cache, for comparison. */
static void render_fresh(const uint8_t *data, size_t size, struct vbuf *out)
{
	json_render_cache_drop();
	out->len = 0;
	ASSERT_OK(json_render(data, size, out));
}

TEST(json_cache_reuses_process_objects_exactly)
{
	static const char args[] = "worker\0--config=/etc/some-daemon/worker.conf\0--flag";
	struct proc_cache *c = new_cache();
	struct record_encoder *r = NULL;
	const struct proc_entry *p[3];
	struct vbuf warm = {}, cold = {};
	uint8_t *copy;
	const uint8_t *data;
	size_t size;

	ASSERT_OK(record_encoder_new("web-1", false, &r));
	record_encoder_set_boot_offset(r, BOOT_OFFSET);
	p[0] = feed_exec(c, 40, 2 * TICK, 0, 0, "/usr/libexec/worker", args, sizeof(args), 0);
	/* Same pid, same start tick: process objects whose first bytes are the same. */
	p[1] = feed_exec(c, 41, 2 * TICK, 40, 2 * TICK, "/usr/libexec/worker", args, sizeof(args),
			 0);
	p[2] = feed_exec(c, 42, 2 * TICK, 41, 2 * TICK, "/usr/libexec/workeR", args, sizeof(args),
			 0);
	json_render_cache_drop();

	/* Exec, exit (cached process object), exit as another thread (different tid: the
	 * cached one must not be used), for each process, and again: every rendering equals
	 * the one from an empty cache. */
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 3; i++)
			for (int kind = 0; kind < 3; kind++) {
				if (kind == 0)
					ASSERT_OK(record_encode_exec(r, 1, p[i]->pid, c, p[i],
								     &data, &size));
				else
					ASSERT_OK(record_encode_exit(r, 1,
								     kind == 1 ? p[i]->pid : 99999,
								     c, p[i], 0, &data, &size));
				copy = malloc(size);
				ASSERT_NOT_NULL(copy);
				memcpy(copy, data, size);
				warm.len = 0;
				ASSERT_OK(json_render(copy, size, &warm));
				render_fresh(copy, size, &cold);
				ASSERT_EQ(warm.len, cold.len);
				ASSERT_MEMEQ(warm.data, cold.data, warm.len);
				/* re-warm the cache with this record for the next one */
				warm.len = 0;
				ASSERT_OK(json_render(copy, size, &warm));
				free(copy);
			}

	/* The renderer really fills the cache from records: a second rendering of an exit
	 * record whose process object was tampered with after the first must show the change
	 * (verification by comparison, not by hash alone). */
	ASSERT_OK(record_encode_exit(r, 1, 42, NULL, p[2], 0, &data, &size)); /* no parent */
	copy = malloc(size);
	ASSERT_NOT_NULL(copy);
	memcpy(copy, data, size);
	warm.len = 0;
	ASSERT_OK(json_render(copy, size, &warm));
	ASSERT_TRUE(memmem(warm.data, warm.len, "\"--flag\"]", 9) != NULL);
	{
		/* the last argv element, well past the hashed first 128 bytes */
		uint8_t *at = NULL, *q = copy;

		while ((q = memmem(q, size - (size_t)(q - copy), "--flag", 6)))
			at = q++;
		ASSERT_NOT_NULL(at);
		ASSERT_TRUE(at - copy > 200);
		at[5] = 'G';
	}
	warm.len = 0;
	ASSERT_OK(json_render(copy, size, &warm));
	ASSERT_TRUE(memmem(warm.data, warm.len, "\"--flaG\"]", 9) != NULL);
	ASSERT_TRUE(memmem(warm.data, warm.len, "\"--flag\"]", 9) == NULL);
	free(copy);

	vbuf_done(&warm);
	vbuf_done(&cold);
	json_render_cache_drop();
	record_encoder_free(r);
	proc_cache_free(c);
}

/* [[...[M]...]] with M at @depth: a map of ~200 bytes whose last value is a one-pair map. */
static size_t pack_nested(int depth, char *buf, size_t size)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t n;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (int i = 0; i < depth; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str_with_body(&pk, "a", 1);
	msgpack_pack_str_with_body(&pk,
				   "0123456789012345678901234567890123456789012345678901234"
				   "5678901234567890123456789012345678901234567890123456789"
				   "0123456789",
				   120);
	msgpack_pack_str_with_body(&pk, "b", 1);
	msgpack_pack_uint32(&pk, 70000);
	msgpack_pack_str_with_body(&pk, "inner", 5);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str_with_body(&pk, "x", 1);
	msgpack_pack_true(&pk);
	if (sb.size > size)
		TAP_FAIL("pack");
	memcpy(buf, sb.data, sb.size);
	n = sb.size;
	msgpack_sbuffer_destroy(&sb);
	return n;
}

TEST(json_cache_keeps_depth_limit)
{
	char shallow[512], deep[512];
	size_t ns = pack_nested(3, shallow, sizeof(shallow));
	size_t nd = pack_nested(63, deep, sizeof(deep));
	struct vbuf out = {};

	json_render_cache_drop();
	ASSERT_OK(json_render((const uint8_t *)shallow, ns, &out));
	ASSERT_OK(vbuf_putc(&out, 0));
	ASSERT_CONTAINS(out.data, "\"inner\":{\"x\":true}}]]]");
	out.len = 0;
	ASSERT_OK(json_render((const uint8_t *)shallow, ns, &out)); /* from the cache */
	ASSERT_OK(vbuf_putc(&out, 0));
	ASSERT_CONTAINS(out.data, "\"b\":70000,\"inner\":{\"x\":true}}]]]");
	/* At depth 63 the inner map would be level 65: too deep, cached or not. */
	out.len = 0;
	ASSERT_ERRNO(json_render((const uint8_t *)deep, nd, &out), EBADMSG);
	ASSERT_EQ(out.len, 0);
	/* Truncated input whose prefix matches the cached map is not served from the cache. */
	ASSERT_ERRNO(json_render((const uint8_t *)shallow, ns - 1, &out), EBADMSG);
	vbuf_done(&out);
	json_render_cache_drop();
}

static void *render_in_thread(void *arg)
{
	const msgpack_sbuffer *sb = arg;
	struct vbuf out = {};
	intptr_t ok;

	ok = json_render((const uint8_t *)sb->data, sb->size, &out) == 0 &&
	     json_render((const uint8_t *)sb->data, sb->size, &out) == 0 && out.len % 2 == 0 &&
	     memcmp(out.data, out.data + out.len / 2, out.len / 2) == 0;
	vbuf_done(&out);
	return (void *)ok; /* the thread's cache is freed at its exit (ASan: no leak) */
}

TEST(json_cache_per_thread)
{
	char buf[512];
	size_t n = pack_nested(2, buf, sizeof(buf));
	msgpack_sbuffer sb = {.data = buf, .size = n};
	pthread_t t[4];
	void *ok;

	for (int i = 0; i < 4; i++)
		ASSERT_EQ(pthread_create(&t[i], NULL, render_in_thread, &sb), 0);
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(pthread_join(t[i], &ok), 0);
		ASSERT_TRUE(ok == (void *)1);
	}
}

int main(void)
{
	return tap_run();
}
