/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Build canonical records (docs/event-schema.md) with msgpack-c for plugin tests. */
#ifndef VIGIL_TESTREC_H
#define VIGIL_TESTREC_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

struct testproc {
	const char *exec_id;
	uint32_t pid, tid, uid, auid;
	const char *cwd, *binary, *arguments, *flags, *parent_exec_id;
	const char *const *argv; /* NULL-terminated, or NULL for none */
	const char *unit, *cgroup, *container_id, *container_runtime;
};

void testrec_pack_str(msgpack_packer *pk, const char *s);
void testrec_pack_strn(msgpack_packer *pk, const void *s, size_t n);
/* Timestamp extension in the 32-, 64- or 96-bit form (@form = 4, 8 or 12 bytes). */
void testrec_pack_time(msgpack_packer *pk, int form, int64_t sec, uint32_t nsec);
void testrec_pack_process(msgpack_packer *pk, const struct testproc *p);

/* Whole records into @sb (cleared first). @parent may be NULL. */
void testrec_exec(msgpack_sbuffer *sb, const struct testproc *proc, const struct testproc *parent);
void testrec_exit(msgpack_sbuffer *sb, const struct testproc *proc, const struct testproc *parent,
		  unsigned status, const char *signal);
void testrec_clone(msgpack_sbuffer *sb, const struct testproc *proc, const struct testproc *parent);
void testrec_loss(msgpack_sbuffer *sb, const char *stage, uint64_t count, uint64_t total,
		  const char *output);

/* A typical exec record: curl in nginx.service, parent bash. */
extern const struct testproc testrec_curl, testrec_bash;

#endif
