/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef VIGIL_CONTROL_H
#define VIGIL_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "util/macro.h"

/*
 * The control socket ($RUNTIME_DIRECTORY/control.sock) that vigilctl(1) talks to: JSON lines,
 * one request per connection (docs/control.md). Runs entirely on the main thread's sd-event
 * loop; nothing here ever blocks it: every client has a non-blocking socket and a bounded
 * output buffer, and an `events` subscriber that reads too slowly skips records (and is told how
 * many) instead of slowing the daemon.
 */
struct control;
struct plugin_host;
struct policy_engine;
struct policy_env;

/* What `status` and `policy list` show, filled by the manager on request (main thread). */
struct control_snapshot {
	const char *node_name;
	uint64_t events_in;   /* kernel samples decoded */
	uint64_t records_out; /* records handed to the outputs */
	uint64_t seq;	      /* the last record's sequence number */
	/* Loss reported so far per stage (the counts of the vigil_loss records). */
	const char *const *loss_stages;
	const uint64_t *loss;
	size_t n_loss;
	uint64_t kernel_drops; /* ring-buffer reserve failures, current */
	size_t procs;	       /* process cache entries */
	uint32_t ringbuf_size;
	bool clone_events;
	struct plugin_host *host;
	struct policy_engine *policies;
	const struct policy_env *policy_env;
	const char *policy_dir_list;
};

struct control_ops {
	void (*snapshot)(void *userdata, struct control_snapshot *ret);
	/* Same as SIGHUP; returns 0 or -errno. */
	int (*reload)(void *userdata);
};

struct control_options {
	const char *runtime_dir; /* the socket is <runtime_dir>/control.sock */
	/* [Daemon] SocketGroup=: NULL = root only (0600); else 0660 and this group (name or
	 * number), whose members may use every command but reload. */
	const char *socket_group;
	/* Bytes an `events` client may have pending before records are skipped; 0 = 1 MiB. */
	size_t client_buffer;
};

/* Bind and listen; an existing stale socket is replaced. Returns 0 or -errno (logged). */
int control_new(sd_event *event, const struct control_options *o, const struct control_ops *ops,
		void *userdata, struct control **ret);
/*
 * Main thread, for every record handed to the outputs: queue it to each `events` subscriber
 * whose filters match. Costs one branch when nobody is subscribed; never blocks.
 */
void control_publish(struct control *c, uint32_t type, uint64_t seq, const uint8_t *data,
		     size_t size);
/* Close every client and remove the socket. */
struct control *control_free(struct control *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct control *, control_free)

#endif /* VIGIL_CONTROL_H */
